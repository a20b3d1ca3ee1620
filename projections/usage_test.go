package projections_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// TestTopServesLatestUsage: what agents publish on their metrics subjects
// is answered by the top query, the latest sample per node.
func TestTopServesLatestUsage(t *testing.T) {
	c := startCluster(t, 1)
	u := projections.NewUsage()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = u.Serve(ctx, c.conn) }()
	waitFor(t, func() bool {
		_, err := c.conn.NC.Request(bus.QuerySubject(projections.QueryTop), nil, time.Second)
		return err == nil
	}, "top answers")
	now := time.Now()
	for i, s := range []bus.NodeUsage{
		{Node: "n1", Time: now.Add(-time.Second), Pods: []bus.PodUsage{{Namespace: "default", Name: "old", Containers: []bus.ContainerUsage{{Name: "c", CPUMillicores: 1}}}}},
		{Node: "n1", Time: now, Pods: []bus.PodUsage{{Namespace: "default", Name: "web", Containers: []bus.ContainerUsage{{Name: "c", CPUMillicores: 250, MemoryBytes: 64 << 20}}}}},
		{Node: "n2", Time: now},
	} {
		b, _ := json.Marshal(s)
		if err := c.conn.NC.Publish(bus.MetricsSubject(s.Node), b); err != nil {
			t.Fatal(i, err)
		}
	}
	var resp projections.TopResponse
	waitFor(t, func() bool {
		resp = projections.TopResponse{}
		return c.client.Query(context.Background(), projections.QueryTop, struct{}{}, &resp) == nil &&
			len(resp.Nodes) == 2 && len(resp.Nodes[0].Pods) == 1 && resp.Nodes[0].Pods[0].Name == "web"
	}, "the latest sample of both nodes")
	if got := resp.Nodes[0].Pods[0].Containers[0]; got.CPUMillicores != 250 || got.MemoryBytes != 64<<20 {
		t.Fatalf("usage = %+v", got)
	}
}

func TestPodSummary(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "a", Ready: true, RestartCount: 1},
			{Name: "b", RestartCount: 4, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
		}}}
	ready, restarts, status := projections.PodSummary(p)
	if ready != 1 || restarts != 5 || status != "CrashLoopBackOff" {
		t.Fatalf("PodSummary = %d, %d, %q", ready, restarts, status)
	}
}
