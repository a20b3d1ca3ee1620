package deployment

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestRollingUpdateKeepsThreeReady(t *testing.T) {
	d := makeDeployment(3, "web:v1")
	rolling(intstr.FromInt32(1), intstr.FromInt32(0))(d)
	s := newSim(t, d)
	s.run(nil)
	if got := s.podsByImage(); got["web:v1"] != 3 {
		t.Fatalf("initial rollout: %v", got)
	}
	s.setImage("web:v2")
	steps := s.run(func() {
		if n := s.readyPods(); n < 3 {
			t.Fatalf("only %d ready pods during the rollout (pods %v)", n, s.podsByImage())
		}
		var total int32
		for _, n := range s.podsByImage() {
			total += n
		}
		if total > 4 {
			t.Fatalf("%d pods exceed replicas+maxSurge", total)
		}
	})
	got := s.podsByImage()
	if len(got) != 1 || got["web:v2"] != 3 {
		t.Fatalf("after rollout pods %v, want 3 on web:v2", got)
	}
	if s.d.Annotations[RevisionAnnotation] != "2" {
		t.Fatalf("revision %q, want 2", s.d.Annotations[RevisionAnnotation])
	}
	if c := condition(s.d, appsv1.DeploymentProgressing); c == nil || c.Reason != reasonNewRSAvailable {
		t.Fatalf("progressing condition %+v", c)
	}
	t.Logf("rollout v1→v2 settled in %d steps", steps)
}

// TestSurgeWaitsForOldPodsToGo: an old RS scaled down keeps its pods until
// the ReplicaSet controller deletes them, and that may come after the new
// RS's pods are created. Counting the old RS by its spec alone (as
// Kubernetes does) grew the new RS meanwhile: 5 pods at once for
// replicas=3, maxSurge=1.
func TestSurgeWaitsForOldPodsToGo(t *testing.T) {
	d := makeDeployment(3, "web:v1")
	rolling(intstr.FromInt32(1), intstr.FromInt32(0))(d)
	s := newSim(t, d)
	s.lagDeletes = true
	s.run(nil)
	s.peak = 0
	s.setImage("web:v2")
	s.run(func() {
		if n := s.readyPods(); n < 3 {
			t.Fatalf("only %d ready pods during the rollout (pods %v)", n, s.podsByImage())
		}
	})
	if s.peak > 4 {
		t.Fatalf("%d pods at once, replicas+maxSurge allows 4", s.peak)
	}
	if got := s.podsByImage(); len(got) != 1 || got["web:v2"] != 3 {
		t.Fatalf("after rollout pods %v, want 3 on web:v2", got)
	}
}

// TestStaleAvailabilityOfAScaledDownRS: an RS scaled to 0 may still report
// the pod it just deleted as available (its controller writes the status
// after the deletion). Undoing at that moment makes it the new RS; taking
// its report at face value, the rollout counted 4 available pods where 3
// ran and scaled the old RS down at once: 2 ready pods for replicas=3,
// maxUnavailable=0 (seen in workers/e2e TestRollingUpdateNeverBelowThreeReady).
func TestStaleAvailabilityOfAScaledDownRS(t *testing.T) {
	s := rolledToV2(t)
	for _, rs := range s.rss {
		if rs.Spec.Template.Spec.Containers[0].Image == "web:v1" {
			rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1} // the pod it deleted
		}
	}
	s.setImage("web:v1")
	res, err := Reconcile(s.d, s.rss, Env{Now: s.now})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range res.Update {
		if rs.Spec.Template.Spec.Containers[0].Image == "web:v2" && *rs.Spec.Replicas < 3 {
			t.Fatalf("the old RS scaled to %d before any new pod was available", *rs.Spec.Replicas)
		}
	}
}

func TestRecreateNeverMixesVersions(t *testing.T) {
	d := makeDeployment(3, "web:v1")
	d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	s := newSim(t, d)
	s.run(nil)
	s.setImage("web:v2")
	s.run(func() {
		if got := s.podsByImage(); got["web:v1"] > 0 && got["web:v2"] > 0 {
			t.Fatalf("old and new pods at once: %v", got)
		}
	})
	if got := s.podsByImage(); got["web:v2"] != 3 || got["web:v1"] != 0 {
		t.Fatalf("pods %v", got)
	}
}

func TestScaling3To10To2(t *testing.T) {
	s := newSim(t, makeDeployment(3, "web:v1"))
	s.run(nil)
	for _, n := range []int32{10, 2} {
		s.setReplicas(n)
		s.run(nil)
		if got := s.podsByImage()["web:v1"]; got != n || s.d.Status.AvailableReplicas != n {
			t.Fatalf("scaled to %d: pods %d status %+v", n, got, s.d.Status)
		}
		if len(s.rss) != 1 {
			t.Fatalf("scaling must not create ReplicaSets, have %d", len(s.rss))
		}
	}
}

func TestScalingMidRolloutIsProportional(t *testing.T) {
	d := makeDeployment(10, "web:v1")
	rolling(intstr.FromInt32(3), intstr.FromInt32(2))(d)
	s := newSim(t, d)
	s.run(nil)
	s.setImage("web:v2")
	s.stuck = true // new pods never get ready: the rollout stalls half way
	for range 3 {
		s.step()
	}
	before := s.podsByImage()
	s.setReplicas(20)
	s.step()
	after := s.podsByImage()
	if after["web:v1"] <= before["web:v1"] || after["web:v2"] <= before["web:v2"] {
		t.Fatalf("both RSs should grow: before %v after %v", before, after)
	}
	if total := after["web:v1"] + after["web:v2"]; total != 20+3 {
		t.Fatalf("total %d, want replicas+maxSurge = 23 (%v)", total, after)
	}
}

func TestUndoReturnsPreviousTemplate(t *testing.T) {
	s := rolledToV2(t)
	undone, err := Rollback(s.d, s.rss, 0)
	if err != nil {
		t.Fatal(err)
	}
	if img := undone.Spec.Template.Spec.Containers[0].Image; img != "web:v1" {
		t.Fatalf("undo template image %q, want web:v1", img)
	}
	if _, ok := undone.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Fatal("undo kept the pod-template-hash label")
	}
	s.d.Spec.Template = undone.Spec.Template
	s.d.Generation++
	s.run(nil)
	if got := s.podsByImage(); got["web:v1"] != 3 || len(s.rss) != 2 {
		t.Fatalf("after undo pods %v with %d RSs (the v1 RS should be reused)", got, len(s.rss))
	}
	if s.d.Annotations[RevisionAnnotation] != "3" {
		t.Fatalf("revision %q, want 3", s.d.Annotations[RevisionAnnotation])
	}
	if _, err := Rollback(s.d, s.rss, 9); err == nil {
		t.Fatal("want an error for a missing revision")
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	d := makeDeployment(3, "web:v1")
	deadline := int32(60)
	d.Spec.ProgressDeadlineSeconds = &deadline
	s := newSim(t, d)
	s.stuck = true
	for range 4 {
		s.step()
	}
	if c := condition(s.d, appsv1.DeploymentProgressing); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("before the deadline: %+v", c)
	}
	if s.last.RequeueAfter <= 0 {
		t.Fatal("want a requeue at the deadline")
	}
	s.now = s.now.Add(2 * time.Minute)
	s.step()
	c := condition(s.d, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ProgressDeadlineExceeded" {
		t.Fatalf("after the deadline: %+v", c)
	}
}

func TestPausedDoesNotRollOut(t *testing.T) {
	s := newSim(t, makeDeployment(3, "web:v1"))
	s.run(nil)
	s.d.Spec.Paused = true
	s.setImage("web:v2")
	for range 3 {
		s.step()
	}
	if got := s.podsByImage(); got["web:v1"] != 3 || got["web:v2"] != 0 || len(s.rss) != 1 {
		t.Fatalf("paused deployment rolled out: %v", got)
	}
	if c := condition(s.d, appsv1.DeploymentProgressing); c == nil || c.Reason != "DeploymentPaused" {
		t.Fatalf("condition %+v", c)
	}
	s.d.Spec.Paused = false
	s.run(nil)
	if got := s.podsByImage(); got["web:v2"] != 3 {
		t.Fatalf("after resume %v", got)
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	d := makeDeployment(1, "web:v0")
	limit := int32(2)
	d.Spec.RevisionHistoryLimit = &limit
	s := newSim(t, d)
	s.run(nil)
	for _, img := range []string{"web:v1", "web:v2", "web:v3", "web:v4"} {
		s.setImage(img)
		s.run(nil)
		s.step() // cleanup happens once the rollout is complete
	}
	if len(s.rss) != 3 {
		t.Fatalf("%d RSs, want the new one plus 2 of history", len(s.rss))
	}
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}
