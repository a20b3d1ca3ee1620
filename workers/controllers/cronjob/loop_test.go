package cronjob_test

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/projections/projtest"
	"github.com/gantry-sh/gantry/workers/controllers/cronjob"
)

// fakeClock only moves when told; timers fire on Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[int]fakeTimer
	next   int
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now, timers: map[int]fakeTimer{}} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.next
	c.next++
	c.timers[id] = fakeTimer{at: c.now.Add(d), f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for id, t := range c.timers {
		if !t.at.After(c.now) {
			due = append(due, t.f)
			delete(c.timers, id)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

func cron(name string, policy batchv1.ConcurrencyPolicy) *batchv1.CronJob {
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "* * * * *", ConcurrencyPolicy: policy,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "r", Image: "busybox:1.36"}},
			}}}},
		},
	}
}

func jobsOf(c *projtest.Cluster, owner string) []*batchv1.Job {
	var out []*batchv1.Job
	for _, e := range c.View.List("job", "default") {
		j := &batchv1.Job{}
		_ = json.Unmarshal(e.Raw, j)
		if ref := metav1.GetControllerOf(j); ref != nil && ref.Name == owner {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out
}

func start(t *testing.T, c *projtest.Cluster, clock cronjob.Clock) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	loop := cronjob.NewLoop(c.View, c.Client, cronjob.LoopOptions{Clock: clock, Resync: time.Hour})
	go func() { _ = loop.Run(ctx) }()
}

func TestLoopEveryMinuteOnAFakeClock(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("cronjob", "default", "tick", cron("tick", batchv1.AllowConcurrent))
	clock := newFakeClock(time.Now().Add(time.Second)) // after the CronJob's creation time
	start(t, c, clock)
	if err := c.CaughtUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		projtest.Eventually(t, 10*time.Second, "timer set", func() bool { clock.mu.Lock(); defer clock.mu.Unlock(); return len(clock.timers) > 0 })
		clock.Advance(time.Minute)
		projtest.Eventually(t, 10*time.Second, "a job per minute", func() bool { return len(jobsOf(c, "tick")) == i })
	}
	jobs := jobsOf(c, "tick")
	for i := 1; i < len(jobs); i++ {
		a, _ := time.Parse(time.RFC3339, jobs[i-1].Annotations[cronjob.AnnotationScheduledTimestamp])
		b, _ := time.Parse(time.RFC3339, jobs[i].Annotations[cronjob.AnnotationScheduledTimestamp])
		if b.Sub(a) != time.Minute {
			t.Fatalf("runs at %v then %v", a, b)
		}
	}
	projtest.Eventually(t, 10*time.Second, "status lists 3 active", func() bool {
		e, _ := c.View.Get("cronjob", "default", "tick")
		var cj batchv1.CronJob
		_ = json.Unmarshal(e.Raw, &cj)
		return len(cj.Status.Active) == 3 && cj.Status.LastScheduleTime != nil
	})
}

func TestLoopForbidWaitsForTheActiveRun(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("cronjob", "default", "once", cron("once", batchv1.ForbidConcurrent))
	clock := newFakeClock(time.Now().Add(time.Second))
	start(t, c, clock)
	_ = c.CaughtUp(context.Background())
	projtest.Eventually(t, 10*time.Second, "timer set", func() bool { clock.mu.Lock(); defer clock.mu.Unlock(); return len(clock.timers) > 0 })
	clock.Advance(time.Minute)
	projtest.Eventually(t, 10*time.Second, "first run", func() bool { return len(jobsOf(c, "once")) == 1 })
	clock.Advance(time.Minute)
	clock.Advance(time.Minute)
	_ = c.CaughtUp(context.Background())
	if n := len(jobsOf(c, "once")); n != 1 {
		t.Fatalf("%d runs while the first is active under Forbid", n)
	}
	first := jobsOf(c, "once")[0]
	now := metav1.NewTime(clock.Now())
	c.Status("job", "default", first.Name, batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue}, {Type: batchv1.JobComplete, Status: corev1.ConditionTrue},
	}})
	projtest.Eventually(t, 10*time.Second, "the waiting run starts once the first completes", func() bool { return len(jobsOf(c, "once")) == 2 })
}
