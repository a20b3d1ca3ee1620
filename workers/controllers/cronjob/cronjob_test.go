package cronjob

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// t0 is 10:00:30 UTC: half a minute past a minute boundary.
var t0 = time.Date(2026, 3, 2, 10, 0, 30, 0, time.UTC)

func makeCron(schedule string, opts ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "report", Namespace: "default", UID: "cj-uid", CreationTimestamp: metav1.NewTime(t0.Add(-10 * time.Second))},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule, ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "report"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "r", Image: "busybox:1"}},
				}}},
			},
		},
	}
	for _, o := range opts {
		o(cj)
	}
	return cj
}

func i32(v int32) *int32 { return &v }
func i64(v int64) *int64 { return &v }

func job(name string, cond batchv1.JobConditionType, start time.Time) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)}}
	j.Status.StartTime = &metav1.Time{Time: start}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		j.Status.CompletionTime = &metav1.Time{Time: start.Add(time.Second)}
	}
	return j
}

func TestReconcile(t *testing.T) {
	lastMin := metav1.NewTime(t0.Truncate(time.Minute).Add(-time.Minute)) // 09:59
	ranAt := func(cj *batchv1.CronJob) { cj.Status.LastScheduleTime = &lastMin }
	runningJob := job("report-old", "", t0.Add(-time.Minute))
	tests := []struct {
		name        string
		cj          *batchv1.CronJob
		jobs        []*batchv1.Job
		wantCreate  string
		wantDelete  []string
		wantRequeue time.Duration
		wantSkipped string
	}{
		{"not yet due", makeCron("*/5 * * * *"), nil, "", nil, 4*time.Minute + 30*time.Second, ""},
		{"due this minute", makeCron("* * * * *", ranAt), nil, fmt.Sprintf("report-%d", t0.Truncate(time.Minute).Unix()/60), nil, 30 * time.Second, ""},
		{"hourly descriptor", makeCron("@hourly", func(c *batchv1.CronJob) { c.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour)) }),
			nil, fmt.Sprintf("report-%d", t0.Truncate(time.Hour).Unix()/60), nil, 59*time.Minute + 30*time.Second, ""},
		{"already started", makeCron("* * * * *", ranAt), []*batchv1.Job{job(fmt.Sprintf("report-%d", t0.Truncate(time.Minute).Unix()/60), "", t0)}, "", nil, 30 * time.Second, ""},
		{"suspended", makeCron("* * * * *", ranAt, func(c *batchv1.CronJob) { yes := true; c.Spec.Suspend = &yes }), nil, "", nil, 0, ""},
		{"forbid waits for the active run", makeCron("* * * * *", ranAt, func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }),
			[]*batchv1.Job{runningJob}, "", nil, 30 * time.Second, "concurrencyPolicy Forbid"},
		{"allow runs alongside", makeCron("* * * * *", ranAt), []*batchv1.Job{runningJob}, fmt.Sprintf("report-%d", t0.Truncate(time.Minute).Unix()/60), nil, 30 * time.Second, ""},
		{"replace deletes the active run", makeCron("* * * * *", ranAt, func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent }),
			[]*batchv1.Job{runningJob}, fmt.Sprintf("report-%d", t0.Truncate(time.Minute).Unix()/60), []string{"report-old"}, 30 * time.Second, ""},
		{"starting deadline passed", makeCron("0 * * * *", func(c *batchv1.CronJob) {
			c.CreationTimestamp = metav1.NewTime(t0.Add(-2 * time.Hour))
			c.Spec.StartingDeadlineSeconds = i64(10)
		}), nil, "", nil, 59*time.Minute + 30*time.Second, ""},
		{"starting deadline not passed", makeCron("0 * * * *", func(c *batchv1.CronJob) {
			c.CreationTimestamp = metav1.NewTime(t0.Add(-2 * time.Hour))
			c.Spec.StartingDeadlineSeconds = i64(60)
		}), nil, fmt.Sprintf("report-%d", t0.Truncate(time.Hour).Unix()/60), nil, 59*time.Minute + 30*time.Second, ""},
		{"history limits", makeCron("*/5 * * * *", func(c *batchv1.CronJob) { c.Spec.SuccessfulJobsHistoryLimit = i32(1) }), []*batchv1.Job{
			job("report-1", batchv1.JobComplete, t0.Add(-3*time.Hour)), job("report-2", batchv1.JobComplete, t0.Add(-2*time.Hour)),
			job("report-3", batchv1.JobFailed, t0.Add(-3*time.Hour)), job("report-4", batchv1.JobFailed, t0.Add(-time.Hour)),
		}, "", []string{"report-1", "report-3"}, 4*time.Minute + 30*time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Reconcile(tt.cj, tt.jobs, Env{Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if res.Create != nil {
				got = res.Create.Name
			}
			var del []string
			for _, j := range res.Delete {
				del = append(del, j.Name)
			}
			if got != tt.wantCreate || fmt.Sprint(del) != fmt.Sprint(tt.wantDelete) || res.RequeueAfter != tt.wantRequeue {
				t.Fatalf("create %q delete %v requeue %v, want %q %v %v", got, del, res.RequeueAfter, tt.wantCreate, tt.wantDelete, tt.wantRequeue)
			}
			if !strings.Contains(res.Skipped, tt.wantSkipped) || tt.wantSkipped == "" && res.Skipped != "" {
				t.Fatalf("skipped %q, want %q", res.Skipped, tt.wantSkipped)
			}
		})
	}
}

// TestEveryMinute advances a fake clock through five minutes and folds each
// result back in, as the loop does.
func TestEveryMinute(t *testing.T) {
	cj := makeCron("* * * * *")
	var jobs []*batchv1.Job
	now := t0
	var created []string
	for range 5 * 6 { // every 10 s
		now = now.Add(10 * time.Second)
		res, err := Reconcile(cj, jobs, Env{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if res.Create != nil {
			created = append(created, res.Create.Annotations[AnnotationScheduledTimestamp])
			j := res.Create
			j.Status.StartTime = &metav1.Time{Time: now}
			jobs = append(jobs, j)
		}
		cj.Status = res.Status
	}
	want := []string{"2026-03-02T10:01:00Z", "2026-03-02T10:02:00Z", "2026-03-02T10:03:00Z", "2026-03-02T10:04:00Z", "2026-03-02T10:05:00Z"}
	if fmt.Sprint(created) != fmt.Sprint(want) {
		t.Fatalf("runs %v, want %v", created, want)
	}
	if len(cj.Status.Active) != 5 {
		t.Fatalf("active %v", cj.Status.Active)
	}
}

func TestTimeZone(t *testing.T) {
	tz := "America/New_York"
	cj := makeCron("0 9 * * *", func(c *batchv1.CronJob) {
		c.Spec.TimeZone = &tz
		c.CreationTimestamp = metav1.NewTime(t0.Add(-48 * time.Hour))
	})
	res, err := Reconcile(cj, nil, Env{Now: t0}) // 10:00 UTC is 05:00 in New York (EST)
	if err != nil {
		t.Fatal(err)
	}
	if res.Create == nil || res.Create.Annotations[AnnotationScheduledTimestamp] != "2026-03-01T09:00:00-05:00" {
		t.Fatalf("create %+v", res.Create)
	}
	if res.RequeueAfter != 4*time.Hour-30*time.Second {
		t.Fatalf("requeue %v, want until 09:00 EST", res.RequeueAfter)
	}
	bad := "Mars/Olympus"
	cj.Spec.TimeZone = &bad
	if _, err := Reconcile(cj, nil, Env{Now: t0}); err == nil || !strings.Contains(err.Error(), "spec.timeZone") {
		t.Fatalf("err %v", err)
	}
}

func TestManyMissedStartsLatest(t *testing.T) {
	cj := makeCron("* * * * *", func(c *batchv1.CronJob) { c.CreationTimestamp = metav1.NewTime(t0.Add(-30 * 24 * time.Hour)) })
	res, _ := Reconcile(cj, nil, Env{Now: t0})
	if res.Create == nil || res.Create.Annotations[AnnotationScheduledTimestamp] != "2026-03-02T10:00:00Z" || !strings.Contains(res.Skipped, "missed") {
		t.Fatalf("create %v skipped %q", res.Create, res.Skipped)
	}
}

func TestBadSchedule(t *testing.T) {
	if _, err := Reconcile(makeCron("61 * * * *"), nil, Env{Now: t0}); err == nil || !strings.Contains(err.Error(), "spec.schedule") {
		t.Fatalf("err %v", err)
	}
}
