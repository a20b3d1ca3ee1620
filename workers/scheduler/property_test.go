package scheduler

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"pgregory.net/rapid"
)

var taintKeys = []string{"dedicated", "gpu", "spot"}

func genNode(t *rapid.T, i int) *corev1.Node {
	cpu := rapid.IntRange(0, 8000).Draw(t, "cpu")
	mem := rapid.IntRange(0, 8192).Draw(t, "mem")
	n := makeNode(fmt.Sprintf("n%d", i), fmt.Sprintf("%dm", cpu), fmt.Sprintf("%dMi", mem),
		maxPods(fmt.Sprint(rapid.IntRange(0, 10).Draw(t, "pods"))))
	if rapid.Bool().Draw(t, "cordon") {
		n.Spec.Unschedulable = true
	}
	for _, k := range taintKeys {
		effect := rapid.SampledFrom([]corev1.TaintEffect{"", corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute, corev1.TaintEffectPreferNoSchedule}).Draw(t, "effect")
		if effect != "" {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: k, Value: "v", Effect: effect})
		}
	}
	return n
}

func genPod(t *rapid.T, i int) *corev1.Pod {
	p := makePod(fmt.Sprintf("p%d", i),
		fmt.Sprintf("%dm", rapid.IntRange(0, 3000).Draw(t, "cpu")),
		fmt.Sprintf("%dMi", rapid.IntRange(0, 3000).Draw(t, "mem")))
	for _, k := range taintKeys {
		if rapid.Bool().Draw(t, "tolerate") {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: k, Operator: corev1.TolerationOpEqual, Value: "v"})
		}
	}
	if rapid.Bool().Draw(t, "owned") {
		ownedBy("ReplicaSet", rapid.SampledFrom([]string{"a", "b"}).Draw(t, "owner"))(p)
	}
	return p
}

func genCluster(t *rapid.T) (*fakeView, []*corev1.Pod) {
	nodes := make([]*corev1.Node, rapid.IntRange(1, 8).Draw(t, "nodes"))
	for i := range nodes {
		nodes[i] = genNode(t, i)
	}
	pods := make([]*corev1.Pod, rapid.IntRange(1, 30).Draw(t, "pending"))
	for i := range pods {
		pods[i] = genPod(t, i)
	}
	return newFakeView(nodes...), pods
}

func TestPropertyNeverOverCapacity(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		view, pending := genCluster(t)
		plan := Compute(view, pending, Config{Seed: rapid.Uint64().Draw(t, "seed")})
		byName := map[string]*corev1.Pod{}
		for _, p := range pending {
			byName[podKey(p)] = p
		}
		used := map[string]resources{}
		for _, b := range plan.Bindings {
			u := used[b.Node]
			u.add(podRequests(byName[b.Pod]))
			used[b.Node] = u
		}
		for _, n := range view.nodes {
			u, alloc := used[n.Name], nodeAllocatable(n)
			if u.milliCPU > alloc.milliCPU || u.memory > alloc.memory || u.pods > alloc.pods {
				t.Fatalf("node %s over capacity: used %+v allocatable %+v", n.Name, u, alloc)
			}
		}
	})
}

func TestPropertyNeverUntoleratedTaintOrCordon(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		view, pending := genCluster(t)
		plan := Compute(view, pending, Config{Seed: rapid.Uint64().Draw(t, "seed")})
		nodes := map[string]*corev1.Node{}
		for _, n := range view.nodes {
			nodes[n.Name] = n
		}
		pods := map[string]*corev1.Pod{}
		for _, p := range pending {
			pods[podKey(p)] = p
		}
		for _, b := range plan.Bindings {
			n, p := nodes[b.Node], pods[b.Pod]
			if taint := firstUntoleratedTaint(n.Spec.Taints, p.Spec.Tolerations); taint != nil {
				t.Fatalf("pod %s bound to %s despite untolerated taint %v", b.Pod, b.Node, taint)
			}
			if n.Spec.Unschedulable {
				t.Fatalf("pod %s bound to cordoned node %s", b.Pod, b.Node)
			}
		}
	})
}

func TestPropertyDeterministicGivenSeed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		view, pending := genCluster(t)
		seed := rapid.Uint64().Draw(t, "seed")
		first := Compute(view, pending, Config{Seed: seed})
		second := Compute(view, pending, Config{Seed: seed})
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("same seed, different plans:\n%+v\n%+v", first, second)
		}
	})
}

func TestPropertyFailuresExplainEveryNode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		view, pending := genCluster(t)
		c := Snapshot(view, Config{})
		for _, p := range pending {
			_, err := c.Schedule(p)
			fe, ok := err.(*FitError)
			if !ok {
				continue
			}
			if fe.NumAllNodes != len(view.nodes) || len(fe.Reasons) == 0 {
				t.Fatalf("fit error %+v for %d nodes", fe, len(view.nodes))
			}
		}
	})
}
