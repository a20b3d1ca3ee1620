package cronjob

import (
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kubernetes' defaults of the history limits.
const (
	defaultSuccessfulHistory = 3
	defaultFailedHistory     = 1
)

// AnnotationScheduledTimestamp on a Job is the schedule time it ran for.
const AnnotationScheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp"

// Env is what Reconcile needs from the world, injected.
type Env struct {
	Now time.Time
}

// Result holds the intents for one CronJob.
type Result struct {
	Create *batchv1.Job   // the run due now, if any
	Delete []*batchv1.Job // replaced runs, and finished ones past the history limits
	Status batchv1.CronJobStatus
	// RequeueAfter is the time until the next schedule time (0: none, as
	// when suspended).
	RequeueAfter time.Duration
	// Skipped says why a due run was not started ("": none was skipped).
	Skipped string
}

// Reconcile starts the CronJob's run that is due, if any, under its
// concurrency policy and starting deadline; trims the finished runs to
// the history limits; and reports active runs and the last schedule and
// success times. jobs are the Jobs the CronJob controls.
func Reconcile(cj *batchv1.CronJob, jobs []*batchv1.Job, env Env) (Result, error) {
	res := Result{Status: batchv1.CronJobStatus{LastScheduleTime: cj.Status.LastScheduleTime, LastSuccessfulTime: cj.Status.LastSuccessfulTime}}
	active := observe(jobs, &res)
	res.Delete = history(cj, jobs)
	if cj.DeletionTimestamp != nil {
		return res, nil
	}
	sched, loc, err := schedule(cj)
	if err != nil {
		return res, err
	}
	if suspended(cj) {
		return res, nil
	}
	now := env.Now.In(loc)
	res.RequeueAfter = sched.Next(now).Sub(now)
	due, missed := mostRecent(sched, earliest(cj, now).In(loc), now)
	switch {
	case due.IsZero():
		return res, nil
	case tooLate(cj, due, now):
		res.Skipped = fmt.Sprintf("missed the start at %s by more than startingDeadlineSeconds (%d)", due.Format(time.RFC3339), *cj.Spec.StartingDeadlineSeconds)
		return res, nil
	case started(jobs, jobName(cj, due)):
		return res, nil
	case cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(active) > 0:
		res.Skipped = fmt.Sprintf("run at %s waits: concurrencyPolicy Forbid and %d active", due.Format(time.RFC3339), len(active))
		return res, nil
	case cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent:
		res.Delete = append(res.Delete, active...)
		res.Status.Active = nil
	}
	if missed > maxWalk {
		res.Skipped = fmt.Sprintf("more than %d start times missed; starting the latest", maxWalk)
	}
	res.Create = jobFor(cj, due)
	res.Status.Active = append(res.Status.Active, corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job", Namespace: cj.Namespace, Name: res.Create.Name})
	res.Status.LastScheduleTime = &metav1.Time{Time: due.UTC()}
	return res, nil
}

// observe fills the active list and the last success time from the jobs
// and returns the active ones.
func observe(jobs []*batchv1.Job, res *Result) []*batchv1.Job {
	var active []*batchv1.Job
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].Name < jobs[j].Name })
	for _, j := range jobs {
		switch cond := finishedAs(j); {
		case cond == "":
			active = append(active, j)
			res.Status.Active = append(res.Status.Active, corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job", Namespace: j.Namespace, Name: j.Name, UID: j.UID})
		case cond == batchv1.JobComplete && j.Status.CompletionTime != nil:
			if t := res.Status.LastSuccessfulTime; t == nil || t.Before(j.Status.CompletionTime) {
				res.Status.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
			}
		}
	}
	return active
}

// history returns the finished jobs beyond the history limits, oldest first.
func history(cj *batchv1.CronJob, jobs []*batchv1.Job) []*batchv1.Job {
	var ok, failed []*batchv1.Job
	for _, j := range jobs {
		switch finishedAs(j) {
		case batchv1.JobComplete:
			ok = append(ok, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	return append(overLimit(ok, cj.Spec.SuccessfulJobsHistoryLimit, defaultSuccessfulHistory),
		overLimit(failed, cj.Spec.FailedJobsHistoryLimit, defaultFailedHistory)...)
}

func overLimit(jobs []*batchv1.Job, limit *int32, def int) []*batchv1.Job {
	n := def
	if limit != nil {
		n = int(*limit)
	}
	if len(jobs) <= n {
		return nil
	}
	sort.Slice(jobs, func(i, j int) bool {
		a, b := startOf(jobs[i]), startOf(jobs[j])
		if !a.Equal(b) {
			return a.Before(b)
		}
		return jobs[i].Name < jobs[j].Name
	})
	return jobs[:len(jobs)-n]
}

func startOf(j *batchv1.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}

// earliest is where the search for a due time starts: the last schedule
// time (else the creation time), but no earlier than the starting deadline.
func earliest(cj *batchv1.CronJob, now time.Time) time.Time {
	from := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		from = cj.Status.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if limit := now.Add(-time.Duration(*d) * time.Second); limit.After(from) {
			from = limit
		}
	}
	return from
}

func tooLate(cj *batchv1.CronJob, due, now time.Time) bool {
	d := cj.Spec.StartingDeadlineSeconds
	return d != nil && due.Add(time.Duration(*d)*time.Second).Before(now)
}

func started(jobs []*batchv1.Job, name string) bool {
	for _, j := range jobs {
		if j.Name == name {
			return true
		}
	}
	return false
}

// jobName is "<cronjob>-<minutes since the epoch of the schedule time>",
// as Kubernetes names them, so one schedule time is one Job.
func jobName(cj *batchv1.CronJob, due time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, due.Unix()/60)
}

func jobFor(cj *batchv1.CronJob, due time.Time) *batchv1.Job {
	t := cj.Spec.JobTemplate.DeepCopy()
	ann := map[string]string{}
	for k, v := range t.Annotations {
		ann[k] = v
	}
	ann[AnnotationScheduledTimestamp] = due.Format(time.RFC3339)
	yes := true
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: jobName(cj, due), Namespace: cj.Namespace, Labels: t.Labels, Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: &yes, BlockOwnerDeletion: &yes}},
		},
		Spec: t.Spec,
	}
}

// finishedAs is the Job's Complete or Failed condition type, or "".
func finishedAs(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

func suspended(cj *batchv1.CronJob) bool { return cj.Spec.Suspend != nil && *cj.Spec.Suspend }
