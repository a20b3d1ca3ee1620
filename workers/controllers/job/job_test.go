package job

import (
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func i32(v int32) *int32 { return &v }
func i64(v int64) *int64 { return &v }

func makeJob(completions, parallelism *int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Completions: completions, Parallelism: parallelism,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "pi", Image: "perl"}},
			}},
		},
	}
}

func pods(phases ...corev1.PodPhase) []*corev1.Pod {
	var out []*corev1.Pod
	for i, ph := range phases {
		out = append(out, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pi-%d", i), Namespace: "default"}, Status: corev1.PodStatus{Phase: ph}})
	}
	return out
}

func env(at time.Time) Env {
	n := 0
	return Env{Now: at, NewName: func(p string) string { n++; return fmt.Sprintf("%s%d", p, n) }}
}

const (
	run  = corev1.PodRunning
	ok   = corev1.PodSucceeded
	fail = corev1.PodFailed
)

func TestJob(t *testing.T) {
	tests := []struct {
		name          string
		job           *batchv1.Job
		pods          []*corev1.Pod
		wantCreate    int
		wantDelete    int
		wantCondition batchv1.JobConditionType
		wantReason    string
		wantSucceeded int32
		wantFailed    int32
	}{
		{"starts parallelism pods", makeJob(i32(5), i32(2)), nil, 2, 0, "", "", 0, 0},
		{"never more than remaining completions", makeJob(i32(3), i32(4)), pods(ok, ok), 1, 0, "", "", 2, 0},
		{"replaces a failed pod", makeJob(i32(2), i32(2)), pods(run, fail), 1, 0, "", "", 0, 1},
		{"completes", makeJob(i32(2), i32(1)), pods(ok, ok), 0, 0, batchv1.JobComplete, "", 2, 0},
		{"parallelism lowered deletes extras", makeJob(i32(9), i32(1)), pods(run, run, run), 0, 2, "", "", 0, 0},
		{"work queue waits for the rest", makeJob(nil, i32(3)), pods(ok, run), 0, 0, "", "", 1, 0},
		{"work queue completes", makeJob(nil, i32(3)), pods(ok, ok), 0, 0, batchv1.JobComplete, "", 2, 0},
		{"backoff limit", func() *batchv1.Job { j := makeJob(i32(1), nil); j.Spec.BackoffLimit = i32(1); return j }(),
			pods(fail, fail, run), 0, 1, batchv1.JobFailed, reasonBackoffLimitExceeded, 0, 2},
		{"suspended deletes active", func() *batchv1.Job { j := makeJob(i32(2), nil); yes := true; j.Spec.Suspend = &yes; return j }(),
			pods(run), 0, 1, "", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Reconcile(tt.job, tt.pods, env(t0))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Create) != tt.wantCreate || len(res.Delete) != tt.wantDelete {
				t.Fatalf("create %d delete %d, want %d %d", len(res.Create), len(res.Delete), tt.wantCreate, tt.wantDelete)
			}
			if res.Status.Succeeded != tt.wantSucceeded || res.Status.Failed != tt.wantFailed {
				t.Fatalf("status %+v", res.Status)
			}
			got := finishedCondition(res.Status)
			if got == nil && tt.wantCondition != "" || got != nil && (got.Type != tt.wantCondition || got.Reason != tt.wantReason) {
				t.Fatalf("condition %+v, want %s %s", got, tt.wantCondition, tt.wantReason)
			}
		})
	}
}

func TestActiveDeadline(t *testing.T) {
	j := makeJob(i32(1), nil)
	j.Spec.ActiveDeadlineSeconds = i64(60)
	res, _ := Reconcile(j, nil, env(t0))
	if res.Status.StartTime == nil || res.RequeueAfter != time.Minute || len(res.Create) != 1 {
		t.Fatalf("first pass %+v", res)
	}
	j.Status = res.Status
	res, _ = Reconcile(j, pods(run), env(t0.Add(30*time.Second)))
	if c := finishedCondition(res.Status); c != nil || res.RequeueAfter != 30*time.Second {
		t.Fatalf("before deadline %+v", res)
	}
	res, _ = Reconcile(j, pods(run), env(t0.Add(61*time.Second)))
	c := finishedCondition(res.Status)
	if c == nil || c.Type != batchv1.JobFailed || c.Reason != reasonDeadlineExceeded || len(res.Delete) != 1 || res.Status.Active != 0 {
		t.Fatalf("after deadline %+v", res)
	}
}

func TestCreatedPodsCarryJobIdentity(t *testing.T) {
	res, _ := Reconcile(makeJob(i32(1), nil), nil, env(t0))
	p := res.Create[0]
	ref := metav1.GetControllerOf(p)
	if p.Name != "pi-1" || p.Labels[labelJobName] != "pi" || p.Labels[labelControllerUID] != "job-uid" || ref == nil || ref.Kind != "Job" {
		t.Fatalf("pod %+v", p.ObjectMeta)
	}
}

func TestIndexedRejected(t *testing.T) {
	j := makeJob(i32(1), nil)
	m := batchv1.IndexedCompletion
	j.Spec.CompletionMode = &m
	if _, err := Reconcile(j, nil, env(t0)); err == nil {
		t.Fatal("want an error naming the unsupported field")
	}
}

func finishedCondition(st batchv1.JobStatus) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == batchv1.JobComplete || st.Conditions[i].Type == batchv1.JobFailed {
			return &st.Conditions[i]
		}
	}
	return nil
}
