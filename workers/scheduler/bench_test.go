package scheduler

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// bigCluster is 1,000 nodes carrying 30,000 pods from 300 owners, a tenth
// of the nodes tainted and a twentieth cordoned.
func bigCluster() *fakeView {
	view := newFakeView()
	for i := range 1000 {
		var opts []nodeOpt
		if i%10 == 0 {
			opts = append(opts, withTaint("dedicated", "infra", corev1.TaintEffectNoSchedule))
		}
		if i%20 == 1 {
			opts = append(opts, cordoned())
		}
		view.nodes = append(view.nodes, makeNode(fmt.Sprintf("node-%04d", i), "64", "256Gi", opts...))
	}
	for i := range 30000 {
		p := makePod(fmt.Sprintf("pod-%05d", i), "500m", "1Gi", ownedBy("ReplicaSet", fmt.Sprintf("rs-%03d", i%300)))
		view.bind(p, view.nodes[i%1000].Name)
	}
	return view
}

func BenchmarkSchedule1000Nodes(b *testing.B) {
	c := Snapshot(bigCluster(), Config{Seed: 1})
	pod := makePod("incoming", "250m", "512Mi", ownedBy("ReplicaSet", "rs-007"))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Schedule(pod); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSchedule1000NodesTopologySpread(b *testing.B) {
	c := Snapshot(bigCluster(), Config{Seed: 1})
	pod := makePod("incoming", "250m", "512Mi", ownedBy("ReplicaSet", "rs-007"),
		spreading(1, corev1.DoNotSchedule, "rs-007"))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Schedule(pod); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSchedule1000NodesPodAntiAffinity: the pod avoids its owner's
// pods on each host, and the pods of a tenth of the owners (3,000) carry
// the same rule, so every decision reads their terms.
func BenchmarkSchedule1000NodesPodAntiAffinity(b *testing.B) {
	view := bigCluster()
	for _, pods := range view.pods {
		for _, p := range pods {
			if owner := p.Labels["app"]; strings.HasSuffix(owner, "0") {
				awayFrom(podTerm(corev1.LabelHostname, owner))(p)
			}
		}
	}
	c := Snapshot(view, Config{Seed: 1})
	pod := makePod("incoming", "250m", "512Mi", ownedBy("ReplicaSet", "rs-007"), awayFrom(podTerm(corev1.LabelHostname, "rs-007")))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Schedule(pod); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComputeBatch1000Pods(b *testing.B) {
	view := bigCluster()
	pending := make([]*corev1.Pod, 1000)
	for i := range pending {
		pending[i] = makePod(fmt.Sprintf("new-%04d", i), "250m", "512Mi", ownedBy("ReplicaSet", "rs-new"))
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := Snapshot(view, Config{Seed: 1})
		b.StartTimer()
		if plan := c.ComputeBatch(pending); len(plan.Failures) != 0 {
			b.Fatal(plan.Failures[0].Reason)
		}
	}
}

func BenchmarkSnapshot30000Pods(b *testing.B) {
	view := bigCluster()
	b.ReportAllocs()
	for b.Loop() {
		Snapshot(view, Config{})
	}
}
