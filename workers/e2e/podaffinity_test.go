package e2e

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestPodAntiAffinityOneReplicaPerNode: a Deployment whose pods avoid each
// other on kubernetes.io/hostname runs one pod per node; the replica too
// many stays pending with kube-scheduler's reason until a node joins.
func TestPodAntiAffinityOneReplicaPerNode(t *testing.T) {
	c := startCluster(t, controllers())
	c.startNodes("node", 3)
	c.apply("deployment", "default", "web", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
"spec":{"replicas":4,"selector":{"matchLabels":{"app":"web"}},
"template":{"metadata":{"labels":{"app":"web"}},"spec":{"terminationGracePeriodSeconds":5,
"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
  {"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"kubernetes.io/hostname"}]}},
"containers":[{"name":"web","image":"web:1"}]}}}}`)

	want := "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
	c.waitFor(20*time.Second, "3 web pods running on 3 nodes, 1 pending with the anti-affinity reason", func() bool {
		running, pending := runningNodes(t, c.live("web"))
		return len(c.live("web")) == 4 && len(running) == 3 && len(pending) == 1 && unschedulableMessage(pending[0]) == want
	})

	start := time.Now()
	extra := c.startNodes("extra", 1)[0].Name()
	c.waitFor(20*time.Second, "4 web pods running on 4 nodes, one on "+extra, func() bool {
		running, _ := runningNodes(t, c.live("web"))
		return len(c.live("web")) == 4 && len(running) == 4 && running[extra]
	})
	t.Logf("the fourth replica ran %s after the fourth node was started", time.Since(start).Round(time.Millisecond))
}

// runningNodes is the set of nodes running the pods (failing the test if
// two share one) and the pods not bound yet.
func runningNodes(t *testing.T, pods []*corev1.Pod) (map[string]bool, []*corev1.Pod) {
	t.Helper()
	nodes := map[string]bool{}
	var pending []*corev1.Pod
	for _, p := range pods {
		switch {
		case p.Spec.NodeName == "":
			pending = append(pending, p)
		case p.Status.Phase == corev1.PodRunning:
			if nodes[p.Spec.NodeName] {
				t.Fatalf("two web pods run on %s", p.Spec.NodeName)
			}
			nodes[p.Spec.NodeName] = true
		}
	}
	return nodes, pending
}

func unschedulableMessage(p *corev1.Pod) string {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
			return cond.Message
		}
	}
	return ""
}
