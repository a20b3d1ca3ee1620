package e2e

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/workers/controllers/nodelifecycle"
)

func nodeLifecycleForTests() nodelifecycle.Config {
	return nodelifecycle.Config{GracePeriod: 2 * time.Second, DefaultTolerationSeconds: 1}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestUnschedulablePodWaitsForANode(t *testing.T) {
	c := startCluster(t, options{hollow: fastHollow()})
	c.startNodes("small", 2)
	c.apply("pod", "default", "big", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big"},
"spec":{"containers":[{"name":"c","image":"big:1","resources":{"requests":{"cpu":"8","memory":"1Gi"}}}]}}`)
	want := "0/2 nodes are available: 2 Insufficient cpu."
	var pod corev1.Pod
	c.waitFor(10*time.Second, "PodScheduled=False with the FitError text", func() bool {
		if !c.get("pod", "default", "big", &pod) {
			return false
		}
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				return cond.Message == want
			}
		}
		return false
	})
	if pod.Spec.NodeName != "" || pod.Status.Phase != corev1.PodPending {
		t.Fatalf("pod should be pending, is %q on %q", pod.Status.Phase, pod.Spec.NodeName)
	}
	start := time.Now()
	opt := fastHollow()
	opt.CPU = "16"
	if _, err := c.fleet.StartNode(c.ctx, "large-0", 100, opt); err != nil {
		t.Fatal(err)
	}
	c.waitFor(10*time.Second, "big bound to large-0", func() bool {
		return c.get("pod", "default", "big", &pod) && pod.Spec.NodeName == "large-0"
	})
	t.Logf("bound %s after the large node registered", time.Since(start).Round(time.Millisecond))
}

// TestNoExecuteTaintEvicts: pods that do not tolerate the taint are
// evicted and recreated on other nodes; a tolerating pod stays.
func TestNoExecuteTaintEvicts(t *testing.T) {
	c := startCluster(t, controllers())
	c.startNodes("node", 3)
	c.apply("pod", "default", "stays", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"stays"},
"spec":{"nodeSelector":{"kubernetes.io/hostname":"node-0"},"tolerations":[{"key":"maintenance","operator":"Exists","effect":"NoExecute"}],
"containers":[{"name":"c","image":"x:1"}]}}`)
	c.apply("deployment", "default", "web", deploymentManifest("web", 6, "web:1", ""))
	c.waitReady("web", 6, 20*time.Second)
	onNode0 := func() int {
		return count(c.live("web"), func(p *corev1.Pod) bool { return p.Spec.NodeName == "node-0" })
	}
	if onNode0() == 0 {
		t.Fatal("expected web pods on node-0 to start with")
	}
	start := time.Now()
	c.patch("node", "", "node-0", map[string]any{"spec": map[string]any{"taints": []corev1.Taint{{Key: "maintenance", Value: "true", Effect: corev1.TaintEffectNoExecute}}}})
	c.waitFor(20*time.Second, "6 ready web pods, none on node-0", func() bool {
		pods := c.live("web")
		return len(pods) == 6 && count(pods, podReady) == 6 && onNode0() == 0
	})
	t.Logf("evicted and replaced in %s", time.Since(start).Round(time.Millisecond))
	var pod corev1.Pod
	if !c.get("pod", "default", "stays", &pod) || pod.DeletionTimestamp != nil || pod.Spec.NodeName != "node-0" {
		t.Fatalf("the tolerating pod should stay on node-0: %+v", pod.ObjectMeta)
	}
}

// TestDeadNodeIsReplaced: a hollow node that stops renewing its lease goes
// Ready=Unknown within the grace period and its pods are replaced.
func TestDeadNodeIsReplaced(t *testing.T) {
	c := startCluster(t, controllers())
	nodes := c.startNodes("node", 3)
	c.apply("deployment", "default", "web", deploymentManifest("web", 6, "web:1", ""))
	c.waitReady("web", 6, 20*time.Second)
	victim := nodes[1]
	onVictim := count(c.live("web"), func(p *corev1.Pod) bool { return p.Spec.NodeName == victim.Name() })
	start := time.Now()
	victim.Stop()
	var node corev1.Node
	c.waitFor(10*time.Second, victim.Name()+" Ready=Unknown", func() bool {
		if !c.get("node", "", victim.Name(), &node) {
			return false
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionUnknown {
				return true
			}
		}
		return false
	})
	notReady := time.Since(start)
	c.waitFor(20*time.Second, "6 ready web pods off the dead node", func() bool {
		pods := c.live("web")
		return len(pods) == 6 && count(pods, func(p *corev1.Pod) bool { return podReady(p) && p.Spec.NodeName != victim.Name() }) == 6
	})
	t.Logf("node %s stopped with %d pods: NotReady after %s (grace %s), pods replaced after %s (toleration %ds)",
		victim.Name(), onVictim, notReady.Round(time.Millisecond), nodeLifecycleForTests().GracePeriod, time.Since(start).Round(time.Millisecond), nodeLifecycleForTests().DefaultTolerationSeconds)
	c.waitFor(5*time.Second, "unreachable taint", func() bool {
		c.get("node", "", victim.Name(), &node)
		for _, taint := range node.Spec.Taints {
			if taint.Key == corev1.TaintNodeUnreachable && taint.Effect == corev1.TaintEffectNoExecute {
				return true
			}
		}
		return false
	})
}
