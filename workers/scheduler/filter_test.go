package scheduler

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

type placed struct {
	pod  *corev1.Pod
	node string
}

func scheduleOn(t *testing.T, nodes []*corev1.Node, bound []placed, pod *corev1.Pod) (Decision, error) {
	t.Helper()
	view := newFakeView(nodes...)
	for _, b := range bound {
		view.bind(b.pod, b.node)
	}
	return Schedule(view, pod, Config{Seed: 1})
}

// placement is one case of where a pod goes: onto want, or nowhere (want
// "") with the reason.
type placement struct {
	name   string
	nodes  []*corev1.Node
	bound  []placed
	pod    *corev1.Pod
	want   string // node, or "" when unschedulable
	reason string
}

func runPlacements(t *testing.T, tests []placement) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := scheduleOn(t, tt.nodes, tt.bound, tt.pod)
			if tt.want != "" {
				if err != nil || d.Node != tt.want {
					t.Fatalf("got node %q err %v, want node %q", d.Node, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrUnschedulable) {
				t.Fatalf("got node %q err %v, want unschedulable", d.Node, err)
			}
			if err.Error() != tt.reason {
				t.Fatalf("reason\n got: %s\nwant: %s", err, tt.reason)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	expr := func(key string, op corev1.NodeSelectorOperator, vals ...string) []corev1.NodeSelectorRequirement {
		return []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: vals}}
	}
	tests := []placement{
		{"cpu fits on the bigger node", []*corev1.Node{makeNode("a", "1", "4Gi"), makeNode("b", "4", "4Gi")}, nil,
			makePod("p", "2", "1Gi"), "b", ""},
		{"cpu counts bound pods", []*corev1.Node{makeNode("a", "2", "4Gi")}, []placed{{makePod("x", "1500m", ""), "a"}},
			makePod("p", "1", ""), "", "0/1 nodes are available: 1 Insufficient cpu."},
		{"terminal pods free their requests", []*corev1.Node{makeNode("a", "2", "4Gi")},
			[]placed{{func() *corev1.Pod { p := makePod("x", "2", ""); p.Status.Phase = corev1.PodSucceeded; return p }(), "a"}},
			makePod("p", "1", ""), "a", ""},
		{"memory and cpu both short", []*corev1.Node{makeNode("a", "1", "1Gi")}, nil,
			makePod("p", "2", "2Gi"), "", "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."},
		{"pod count", []*corev1.Node{makeNode("a", "8", "8Gi", maxPods("1"))}, []placed{{makePod("x", "", ""), "a"}},
			makePod("p", "", ""), "", "0/1 nodes are available: 1 Too many pods."},
		{"zero request fits a full node", []*corev1.Node{makeNode("a", "1", "1Gi")}, []placed{{makePod("x", "1", "1Gi"), "a"}},
			makePod("p", "", ""), "a", ""},
		{"spec.nodeName", []*corev1.Node{makeNode("a", "4", "4Gi"), makeNode("b", "4", "4Gi")}, nil,
			func() *corev1.Pod { p := makePod("p", "1", ""); p.Spec.NodeName = "b"; return p }(), "b", ""},
		{"nodeSelector", []*corev1.Node{makeNode("a", "4", "4Gi"), makeNode("b", "4", "4Gi", withLabel("disk", "ssd"))}, nil,
			makePod("p", "1", "", selecting("disk", "ssd")), "b", ""},
		{"nodeSelector matches nothing", []*corev1.Node{makeNode("a", "4", "4Gi")}, nil,
			makePod("p", "1", "", selecting("disk", "ssd")), "", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{"affinity In", []*corev1.Node{makeNode("a", "4", "4Gi", withLabel("zone", "x")), makeNode("b", "4", "4Gi", withLabel("zone", "y"))}, nil,
			makePod("p", "1", "", requireAffinity(expr("zone", corev1.NodeSelectorOpIn, "y", "z"), nil)), "b", ""},
		{"affinity NotIn", []*corev1.Node{makeNode("a", "4", "4Gi", withLabel("zone", "x")), makeNode("b", "4", "4Gi", withLabel("zone", "y"))}, nil,
			makePod("p", "1", "", requireAffinity(expr("zone", corev1.NodeSelectorOpNotIn, "x"), nil)), "b", ""},
		{"affinity Exists", []*corev1.Node{makeNode("a", "4", "4Gi"), makeNode("b", "4", "4Gi", withLabel("gpu", ""))}, nil,
			makePod("p", "1", "", requireAffinity(expr("gpu", corev1.NodeSelectorOpExists), nil)), "b", ""},
		{"affinity DoesNotExist", []*corev1.Node{makeNode("a", "4", "4Gi", withLabel("gpu", "")), makeNode("b", "4", "4Gi")}, nil,
			makePod("p", "1", "", requireAffinity(expr("gpu", corev1.NodeSelectorOpDoesNotExist), nil)), "b", ""},
		{"affinity Gt", []*corev1.Node{makeNode("a", "4", "4Gi", withLabel("gen", "3")), makeNode("b", "4", "4Gi", withLabel("gen", "5"))}, nil,
			makePod("p", "1", "", requireAffinity(expr("gen", corev1.NodeSelectorOpGt, "4"), nil)), "b", ""},
		{"affinity Lt", []*corev1.Node{makeNode("a", "4", "4Gi", withLabel("gen", "3")), makeNode("b", "4", "4Gi", withLabel("gen", "5"))}, nil,
			makePod("p", "1", "", requireAffinity(expr("gen", corev1.NodeSelectorOpLt, "4"), nil)), "a", ""},
		{"affinity matchFields metadata.name", []*corev1.Node{makeNode("a", "4", "4Gi"), makeNode("b", "4", "4Gi")}, nil,
			makePod("p", "1", "", requireAffinity(nil, expr("metadata.name", corev1.NodeSelectorOpIn, "a"))), "a", ""},
		{"NoSchedule taint", []*corev1.Node{makeNode("a", "4", "4Gi", withTaint("dedicated", "infra", corev1.TaintEffectNoSchedule))}, nil,
			makePod("p", "1", ""), "", "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}."},
		{"NoExecute taint", []*corev1.Node{makeNode("a", "4", "4Gi", withTaint("k", "", corev1.TaintEffectNoExecute))}, nil,
			makePod("p", "1", ""), "", "0/1 nodes are available: 1 node(s) had untolerated taint {k: }."},
		{"tolerated taint", []*corev1.Node{makeNode("a", "4", "4Gi", withTaint("dedicated", "infra", corev1.TaintEffectNoSchedule))}, nil,
			makePod("p", "1", "", tolerating("dedicated", "infra", corev1.TaintEffectNoSchedule)), "a", ""},
		{"Exists toleration", []*corev1.Node{makeNode("a", "4", "4Gi", withTaint("dedicated", "infra", corev1.TaintEffectNoExecute))}, nil,
			makePod("p", "1", "", tolerating("dedicated", "", "")), "a", ""},
		{"PreferNoSchedule does not filter", []*corev1.Node{makeNode("a", "4", "4Gi", withTaint("soft", "x", corev1.TaintEffectPreferNoSchedule))}, nil,
			makePod("p", "1", ""), "a", ""},
		{"PreferNoSchedule scores lower", []*corev1.Node{makeNode("a", "4", "4Gi", withTaint("soft", "x", corev1.TaintEffectPreferNoSchedule)), makeNode("b", "4", "4Gi")}, nil,
			makePod("p", "1", ""), "b", ""},
		{"cordoned", []*corev1.Node{makeNode("a", "4", "4Gi", cordoned())}, nil,
			makePod("p", "1", ""), "", "0/1 nodes are available: 1 node(s) were unschedulable."},
		{"cordon tolerated", []*corev1.Node{makeNode("a", "4", "4Gi", cordoned())}, nil,
			makePod("p", "1", "", tolerating(corev1.TaintNodeUnschedulable, "", corev1.TaintEffectNoSchedule)), "a", ""},
		{"not ready", []*corev1.Node{makeNode("a", "4", "4Gi", readiness(corev1.ConditionFalse))}, nil,
			makePod("p", "1", ""), "", "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."},
		{"unknown readiness", []*corev1.Node{makeNode("a", "4", "4Gi", readiness(corev1.ConditionUnknown))}, nil,
			makePod("p", "1", ""), "", "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }."},
		{"host port taken", []*corev1.Node{makeNode("a", "4", "4Gi"), makeNode("b", "4", "4Gi")}, []placed{{makePod("x", "", "", hostPort(80, "")), "a"}},
			makePod("p", "", "", hostPort(80, "")), "b", ""},
		{"host port on other IP is free", []*corev1.Node{makeNode("a", "4", "4Gi")}, []placed{{makePod("x", "", "", hostPort(80, "10.0.0.1")), "a"}},
			makePod("p", "", "", hostPort(80, "10.0.0.2")), "a", ""},
		{"wildcard host port conflicts", []*corev1.Node{makeNode("a", "4", "4Gi")}, []placed{{makePod("x", "", "", hostPort(80, "10.0.0.1")), "a"}},
			makePod("p", "", "", hostPort(80, "")), "", "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."},
		{"spread DoNotSchedule", []*corev1.Node{makeNode("a", "4", "4Gi"), makeNode("b", "4", "4Gi")},
			[]placed{{makePod("x", "", "", spreading(1, corev1.DoNotSchedule, "web")), "a"}},
			makePod("p", "", "", spreading(1, corev1.DoNotSchedule, "web"), requireAffinity(nil, []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}})), "b", ""},
		{"spread blocks skew", []*corev1.Node{makeNode("a", "4", "4Gi"), makeNode("b", "4", "4Gi", cordoned())},
			[]placed{{makePod("x", "", "", spreading(1, corev1.DoNotSchedule, "web")), "a"}},
			makePod("p", "", "", spreading(1, corev1.DoNotSchedule, "web")), "",
			"0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) were unschedulable."},
	}
	runPlacements(t, tests)
}

func TestReasonText(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("a", "1", "4Gi"),
		makeNode("b", "1", "4Gi"),
		makeNode("c", "8", "4Gi", withTaint("dedicated", "infra", corev1.TaintEffectNoSchedule)),
	}
	_, err := scheduleOn(t, nodes, nil, makePod("p", "2", ""))
	want := "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 2 Insufficient cpu."
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var fe *FitError
	if !errors.As(err, &fe) || fe.Pod != "default/p" {
		t.Fatalf("want *FitError naming default/p, got %#v", err)
	}
}

func TestNoNodes(t *testing.T) {
	_, err := scheduleOn(t, nil, nil, makePod("p", "1", ""))
	if !errors.Is(err, ErrNoNodesAvailable) {
		t.Fatalf("got %v", err)
	}
}

// TestCacheFollowsNodeReadiness: the cache keeps what it filters on per
// version of a node, so a node that turns NotReady stops taking pods (but
// a tolerating one) and takes them again once Ready.
func TestCacheFollowsNodeReadiness(t *testing.T) {
	c := NewCache(Config{Seed: 1})
	c.SetNode(makeNode("a", "4", "4Gi"))
	expect := func(pod *corev1.Pod, want string) {
		t.Helper()
		d, err := c.Schedule(pod)
		switch {
		case want == "" && err == nil:
			t.Errorf("%s went to %s, want it refused", pod.Name, d.Node)
		case want != "" && (err != nil || d.Node != want):
			t.Errorf("%s: %+v, %v; want it on %s", pod.Name, d, err, want)
		}
	}
	expect(makePod("p1", "1", ""), "a")
	c.SetNode(makeNode("a", "4", "4Gi", readiness(corev1.ConditionFalse)))
	expect(makePod("p2", "1", ""), "")
	expect(makePod("p3", "1", "", tolerating(corev1.TaintNodeNotReady, "", corev1.TaintEffectNoSchedule)), "a")
	c.SetNode(makeNode("a", "4", "4Gi", readiness(corev1.ConditionUnknown)))
	expect(makePod("p4", "1", "", tolerating(corev1.TaintNodeNotReady, "", corev1.TaintEffectNoSchedule)), "")
	c.SetNode(makeNode("a", "4", "4Gi"))
	expect(makePod("p5", "1", ""), "a")
}
