package replicaset

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"pgregory.net/rapid"
)

func TestPropertyConvergesToReplicas(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rs := makeRS(int32(rapid.IntRange(0, 20).Draw(t, "replicas")), 0)
		var pods []*corev1.Pod
		for i := range rapid.IntRange(0, 30).Draw(t, "pods") {
			var opts []podOpt
			if rapid.Bool().Draw(t, "ready") {
				opts = append(opts, readyAt(t0))
			}
			if rapid.Bool().Draw(t, "pending") {
				opts = append(opts, phase(corev1.PodPending))
			}
			owner := rs
			if rapid.Bool().Draw(t, "orphan") {
				owner = nil
			}
			pods = append(pods, makePod(fmt.Sprintf("p%d", i), owner, opts...))
		}
		res, err := Reconcile(rs, pods, env())
		if err != nil {
			t.Fatal(err)
		}
		deleted := map[*corev1.Pod]bool{}
		for _, p := range res.Delete {
			deleted[p] = true
		}
		live := len(res.Create)
		for _, p := range pods {
			if !deleted[p] {
				live++
			}
		}
		if live != int(*rs.Spec.Replicas) {
			t.Fatalf("after applying the result %d pods, want %d", live, *rs.Spec.Replicas)
		}
	})
}

func TestRandomNames(t *testing.T) {
	gen := RandomNames(rand.New(rand.NewPCG(1, 2)))
	a, b := gen("web-"), gen("web-")
	if !regexp.MustCompile(`^web-[bcdfghjklmnpqrstvwxz2456789]{5}$`).MatchString(a) || a == b {
		t.Fatalf("names %q %q", a, b)
	}
}
