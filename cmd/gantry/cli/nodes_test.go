package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-sh/gantry/agentd/hollow"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// testPod is a pod on node ("": unbound), owned by owner when one is given.
func testPod(name, node string, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

// TestDrain: drain cordons the node, deletes its pods but the DaemonSet's
// (with a warning), waits until the node's agent has stopped them, and
// leaves other nodes' pods alone. The nodes are hollow: their agents
// finalize terminating pods at once.
func TestDrain(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fleet, err := hollow.NewFleet(ctx, c.Conn, hollow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := fleet.Start(ctx, "node", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Stop()
		}
	})
	ds := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "logs", UID: types.UID("0a1b2c3d-0000-4000-8000-000000000001"), Controller: new(true)}
	c.Apply("pod", "default", "web", testPod("web", "node-0", nil))
	c.Apply("pod", "default", "logs-x", testPod("logs-x", "node-0", ds))
	c.Apply("pod", "default", "db", testPod("db", "node-1", nil))
	projtest.Eventually(t, 10*time.Second, "the pods running", func() bool {
		for _, name := range []string{"web", "logs-x", "db"} {
			var p corev1.Pod
			if e, ok := c.View.Get("pod", "default", name); !ok || aggregates.Unmarshal(e.Raw, &p) != nil || p.Status.Phase != corev1.PodRunning {
				return false
			}
		}
		return true
	})

	out, errOut := gantryOn(c, "drain", "node-0", "--timeout=20s")
	if want := "node/node-0 cordoned\nevicting pod default/web\nnode/node-0 drained\n"; out != want {
		t.Errorf("drain printed %q, want %q", out, want)
	}
	if want := "Warning: ignoring DaemonSet-managed pod default/logs-x\n"; errOut != want {
		t.Errorf("drain warned %q, want %q", errOut, want)
	}
	if _, ok := c.View.Get("pod", "default", "web"); ok {
		t.Error("web is still there after the drain")
	}
	for _, name := range []string{"logs-x", "db"} {
		if _, ok := c.View.Get("pod", "default", name); !ok {
			t.Errorf("%s is gone; drain may only remove node-0's pods but the DaemonSet's", name)
		}
	}
	var n corev1.Node
	get(t, c, "node", "", "node-0", &n)
	if !n.Spec.Unschedulable {
		t.Error("node-0 is not cordoned")
	}

	// Nothing left to evict: cordoned already, drained at once.
	out, _ = gantryOn(c, "drain", "node-0", "--timeout=5s")
	if want := "node/node-0 already cordoned\nnode/node-0 drained\n"; out != want {
		t.Errorf("a second drain printed %q, want %q", out, want)
	}
	// A pod no agent stops: the drain gives up at its timeout, saying so.
	for _, nd := range nodes {
		if nd.Name() == "node-1" {
			nd.Stop()
		}
	}
	_, errOut = gantryOn(c, "drain", "node-1", "--timeout=500ms")
	if !strings.Contains(errOut, "drain node-1: 1 pods still on the node after 500ms") {
		t.Errorf("a drain whose pods never stop: %q", errOut)
	}
}
