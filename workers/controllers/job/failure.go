package job

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Failure reasons, as Kubernetes sets them on the Failed condition.
const (
	reasonBackoffLimitExceeded = "BackoffLimitExceeded"
	reasonDeadlineExceeded     = "DeadlineExceeded"
)

// failure names why the Job has failed, or "".
func failure(job *batchv1.Job, st *batchv1.JobStatus, c counts, now time.Time) string {
	limit := int32(defaultBackoffLimit)
	if job.Spec.BackoffLimit != nil {
		limit = *job.Spec.BackoffLimit
	}
	if c.failed+c.restartsOnFailure > limit {
		return reasonBackoffLimitExceeded
	}
	if job.Spec.ActiveDeadlineSeconds != nil && st.StartTime != nil && untilDeadline(job, st, now) <= 0 {
		return reasonDeadlineExceeded
	}
	return ""
}

func failureMessage(reason string) string {
	if reason == reasonDeadlineExceeded {
		return "Job was active longer than specified deadline"
	}
	return "Job has reached the specified backoff limit"
}

// untilDeadline is the time left before activeDeadlineSeconds (0 when no
// deadline is set).
func untilDeadline(job *batchv1.Job, st *batchv1.JobStatus, now time.Time) time.Duration {
	if job.Spec.ActiveDeadlineSeconds == nil || st.StartTime == nil {
		return 0
	}
	end := st.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second)
	return end.Sub(now)
}

func finished(st *batchv1.JobStatus) bool {
	for _, c := range st.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func setFinished(st *batchv1.JobStatus, t batchv1.JobConditionType, reason, msg string, now time.Time) {
	ts := metav1.NewTime(now)
	st.Conditions = append(st.Conditions, batchv1.JobCondition{
		Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: msg,
		LastProbeTime: ts, LastTransitionTime: ts,
	})
}
