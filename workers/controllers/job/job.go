package job

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultBackoffLimit is the batch/v1 default of spec.backoffLimit.
const defaultBackoffLimit = 6

// Env is what Reconcile needs from the world, injected.
type Env struct {
	Now     time.Time
	NewName func(prefix string) string
}

// Result holds the intents for one Job.
type Result struct {
	Create       []*corev1.Pod
	Delete       []*corev1.Pod
	Status       batchv1.JobStatus
	RequeueAfter time.Duration // until activeDeadlineSeconds
}

// counts is the Job's pods by state.
type counts struct {
	active            []*corev1.Pod
	ready             int32
	succeeded, failed int32
	restartsOnFailure int32
}

// Reconcile runs a non-indexed Job: keep min(parallelism, remaining
// completions) pods active, succeed at spec.completions successes (or, with
// completions unset, at the first success once none is active), fail past
// backoffLimit failures or activeDeadlineSeconds. pods are the Job's own.
func Reconcile(job *batchv1.Job, pods []*corev1.Pod, env Env) (Result, error) {
	if job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion {
		return Result{}, fmt.Errorf("job %s/%s: spec.completionMode Indexed: not supported yet", job.Namespace, job.Name)
	}
	c := countPods(job, pods)
	st := *job.Status.DeepCopy()
	res := Result{}
	if st.StartTime == nil && !suspended(job) {
		start := metav1.NewTime(env.Now)
		st.StartTime = &start
	}
	switch {
	case finished(&st):
		res.Delete = c.active
	case suspended(job):
		res.Delete = c.active
	case failure(job, &st, c, env.Now) != "":
		reason := failure(job, &st, c, env.Now)
		setFinished(&st, batchv1.JobFailed, reason, failureMessage(reason), env.Now)
		res.Delete = c.active
	case complete(job, c):
		setFinished(&st, batchv1.JobComplete, "", "", env.Now)
		st.CompletionTime = &metav1.Time{Time: env.Now}
		res.Delete = c.active
	default:
		res.Create, res.Delete = scale(job, c, env)
		res.RequeueAfter = untilDeadline(job, &st, env.Now)
	}
	st.Active = int32(len(c.active) - len(res.Delete))
	st.Ready = &c.ready
	st.Succeeded, st.Failed = c.succeeded, c.failed
	res.Status = st
	return res, nil
}

func countPods(job *batchv1.Job, pods []*corev1.Pod) counts {
	var c counts
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			c.succeeded++
		case p.Status.Phase == corev1.PodFailed:
			c.failed++
		case p.DeletionTimestamp == nil:
			c.active = append(c.active, p)
			if podReady(p) {
				c.ready++
			}
			if job.Spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
				c.restartsOnFailure += restarts(p)
			}
		}
	}
	return c
}

// scale creates or deletes pods to have the wanted number active.
func scale(job *batchv1.Job, c counts, env Env) (create, del []*corev1.Pod) {
	want := wantActive(job, c)
	have := int32(len(c.active))
	switch {
	case have < want:
		for range want - have {
			create = append(create, podFromTemplate(job, env.NewName))
		}
	case have > want:
		del = c.active[:have-want]
	}
	return create, del
}

func wantActive(job *batchv1.Job, c counts) int32 {
	parallelism := int32(1)
	if job.Spec.Parallelism != nil {
		parallelism = *job.Spec.Parallelism
	}
	if job.Spec.Completions == nil {
		if c.succeeded > 0 {
			return min(int32(len(c.active)), parallelism) // work queue: let the rest finish
		}
		return parallelism
	}
	return max(min(parallelism, *job.Spec.Completions-c.succeeded), 0)
}

func complete(job *batchv1.Job, c counts) bool {
	if job.Spec.Completions == nil {
		return c.succeeded > 0 && len(c.active) == 0
	}
	return c.succeeded >= *job.Spec.Completions
}

func suspended(job *batchv1.Job) bool {
	return job.Spec.Suspend != nil && *job.Spec.Suspend
}
