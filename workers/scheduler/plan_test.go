package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestComputeAccountsForItsOwnPlacements(t *testing.T) {
	view := newFakeView(makeNode("a", "2", "4Gi"))
	pending := []*corev1.Pod{makePod("p1", "1", ""), makePod("p2", "1", ""), makePod("p3", "1", "")}
	plan := Compute(view, pending, Config{})
	if len(plan.Bindings) != 2 || len(plan.Failures) != 1 {
		t.Fatalf("want 2 bindings and 1 failure, got %+v", plan)
	}
	if got, want := plan.Failures[0].Reason, "0/1 nodes are available: 1 Insufficient cpu."; got != want {
		t.Fatalf("reason %q, want %q", got, want)
	}
}

func TestComputeSpreadsReplicasOfOneOwner(t *testing.T) {
	view := newFakeView(makeNode("a", "8", "16Gi"), makeNode("b", "8", "16Gi"), makeNode("c", "8", "16Gi"))
	var pending []*corev1.Pod
	for i := range 6 {
		pending = append(pending, makePod(named("web", i), "100m", "128Mi", ownedBy("ReplicaSet", "web")))
	}
	plan := Compute(view, pending, Config{Seed: 7})
	perNode := map[string]int{}
	for _, b := range plan.Bindings {
		perNode[b.Node]++
	}
	for _, n := range []string{"a", "b", "c"} {
		if perNode[n] != 2 {
			t.Fatalf("want 2 replicas per node, got %v", perNode)
		}
	}
}

func TestComputeSoftTopologySpread(t *testing.T) {
	view := newFakeView(makeNode("a", "8", "16Gi"), makeNode("b", "8", "16Gi"))
	for i := range 3 {
		view.bind(makePod(named("old", i), "", "", spreading(1, corev1.ScheduleAnyway, "api")), "a")
	}
	plan := Compute(view, []*corev1.Pod{makePod("new", "", "", spreading(1, corev1.ScheduleAnyway, "api"))}, Config{})
	if len(plan.Bindings) != 1 || plan.Bindings[0].Node != "b" {
		t.Fatalf("want the new pod on b, got %+v", plan)
	}
}

func TestComputeHardTopologySpreadAcrossBatch(t *testing.T) {
	view := newFakeView(makeNode("a", "8", "16Gi"), makeNode("b", "8", "16Gi", withTaint("x", "y", corev1.TaintEffectNoSchedule)))
	var pending []*corev1.Pod
	for i := range 3 {
		pending = append(pending, makePod(named("db", i), "", "", spreading(1, corev1.DoNotSchedule, "db")))
	}
	// b is in the spread domain (taints are ignored when counting) but
	// untolerated, so only one pod can go to a before the skew limit.
	plan := Compute(view, pending, Config{})
	if len(plan.Bindings) != 1 || len(plan.Failures) != 2 {
		t.Fatalf("want 1 binding, 2 failures, got %+v", plan)
	}
}

func TestCacheRemovePodFreesCapacity(t *testing.T) {
	c := Snapshot(newFakeView(makeNode("a", "1", "1Gi")), Config{})
	p := makePod("p", "1", "")
	if err := c.Assume(p, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Schedule(makePod("q", "1", "")); err == nil {
		t.Fatal("want q unschedulable while p holds the cpu")
	}
	c.RemovePod(p)
	if d, err := c.Schedule(makePod("q", "1", "")); err != nil || d.Node != "a" {
		t.Fatalf("want q on a after p left, got %+v %v", d, err)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct{ pct, all, want int }{
		{0, 50, 50}, {0, 1000, 420}, {0, 5000, 500}, {0, 200, 100}, {100, 1000, 1000}, {10, 1000, 100}, {30, 1000, 300},
	}
	for _, tt := range tests {
		if got := numFeasibleNodesToFind(tt.pct, tt.all); got != tt.want {
			t.Errorf("numFeasibleNodesToFind(%d, %d) = %d, want %d", tt.pct, tt.all, got, tt.want)
		}
	}
}
