package daemonset

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func makeDS() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system", UID: "ds-uid", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:v1"}}},
			},
		},
	}
}

func node(name string, opts ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func taint(key string, effect corev1.TaintEffect) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: effect}) }
}

func label(k, v string) func(*corev1.Node) { return func(n *corev1.Node) { n.Labels[k] = v } }

// daemonPod is a running, ready pod of generation gen on node.
func daemonPod(name, nodeName string, gen string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", Labels: map[string]string{"app": "agent", TemplateGenerationLabel: gen}},
		Spec:       corev1.PodSpec{NodeName: nodeName},
		Status: corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour)),
		}}},
	}
}

func env() Env {
	n := 0
	return Env{Now: t0, NewName: func(p string) string { n++; return fmt.Sprintf("%s%d", p, n) }}
}

func targets(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, targetNode(p))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func names(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestDaemonSet(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(*appsv1.DaemonSet)
		nodes      []*corev1.Node
		pods       []*corev1.Pod
		wantCreate string // target nodes
		wantDelete string // pod names
	}{
		{"one pod per node", nil, []*corev1.Node{node("a"), node("b")}, nil, "a,b", ""},
		{"node added", nil, []*corev1.Node{node("a"), node("b")}, []*corev1.Pod{daemonPod("p-a", "a", "1", corev1.PodRunning)}, "b", ""},
		{"node removed", nil, []*corev1.Node{node("a")}, []*corev1.Pod{daemonPod("p-a", "a", "1", corev1.PodRunning), daemonPod("p-b", "b", "1", corev1.PodRunning)}, "", "p-b"},
		{"NoSchedule taint skips new", nil, []*corev1.Node{node("a", taint("dedicated", corev1.TaintEffectNoSchedule))}, nil, "", ""},
		{"NoSchedule taint keeps running", nil, []*corev1.Node{node("a", taint("dedicated", corev1.TaintEffectNoSchedule))}, []*corev1.Pod{daemonPod("p-a", "a", "1", corev1.PodRunning)}, "", ""},
		{"NoExecute taint evicts", nil, []*corev1.Node{node("a", taint("dedicated", corev1.TaintEffectNoExecute))}, []*corev1.Pod{daemonPod("p-a", "a", "1", corev1.PodRunning)}, "", "p-a"},
		{"cordon and not-ready tolerated", nil, []*corev1.Node{node("a", taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule), taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute))}, nil, "", ""},
		{"template toleration", func(ds *appsv1.DaemonSet) {
			ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
		}, []*corev1.Node{node("a", taint("dedicated", corev1.TaintEffectNoSchedule))}, nil, "a", ""},
		{"nodeSelector", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"gpu": "yes"} },
			[]*corev1.Node{node("a"), node("b", label("gpu", "yes"))}, []*corev1.Pod{daemonPod("p-a", "a", "1", corev1.PodRunning)}, "b", "p-a"},
		{"duplicates", nil, []*corev1.Node{node("a")}, []*corev1.Pod{daemonPod("p-1", "a", "1", corev1.PodRunning), daemonPod("p-2", "a", "1", corev1.PodRunning)}, "", "p-2"},
		{"failed pod replaced", nil, []*corev1.Node{node("a")}, []*corev1.Pod{daemonPod("p-a", "a", "1", corev1.PodFailed)}, "a", "p-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := makeDS()
			if tt.mutate != nil {
				tt.mutate(ds)
			}
			res, err := Reconcile(ds, tt.nodes, tt.pods, env())
			if err != nil {
				t.Fatal(err)
			}
			if got := targets(res.Create); got != tt.wantCreate {
				t.Errorf("create on %q, want %q", got, tt.wantCreate)
			}
			if got := names(res.Delete); got != tt.wantDelete {
				t.Errorf("delete %q, want %q", got, tt.wantDelete)
			}
		})
	}
}

func TestCreatedPodIsPinnedAndTolerant(t *testing.T) {
	res, _ := Reconcile(makeDS(), []*corev1.Node{node("a")}, nil, env())
	p := res.Create[0]
	if targetNode(p) != "a" || p.Labels[TemplateGenerationLabel] != "1" || p.Spec.NodeName != "" {
		t.Fatalf("pod %+v", p)
	}
	if !toleratedBy(&corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}, p.Spec.Tolerations) {
		t.Fatal("daemon pods must tolerate unreachable")
	}
}

func TestRollingUpdateRespectsMaxUnavailable(t *testing.T) {
	ds := makeDS()
	ds.Generation = 2
	nodes := []*corev1.Node{node("a"), node("b"), node("c")}
	pods := []*corev1.Pod{
		daemonPod("p-a", "a", "1", corev1.PodRunning),
		daemonPod("p-b", "b", "1", corev1.PodRunning),
		daemonPod("p-c", "c", "2", corev1.PodRunning),
	}
	res, _ := Reconcile(ds, nodes, pods, env())
	if len(res.Delete) != 1 {
		t.Fatalf("want one old pod replaced at a time, deleted %q", names(res.Delete))
	}
	st := res.Status
	if st.DesiredNumberScheduled != 3 || st.CurrentNumberScheduled != 3 || st.UpdatedNumberScheduled != 1 || st.NumberReady != 3 || st.NumberAvailable != 3 {
		t.Fatalf("status %+v", st)
	}
	ds.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
	if res, _ := Reconcile(ds, nodes, pods, env()); len(res.Delete) != 0 {
		t.Fatal("OnDelete must not replace pods")
	}
}

func TestStatusMisscheduled(t *testing.T) {
	ds := makeDS()
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"gpu": "yes"}
	nodes := []*corev1.Node{node("a", label("gpu", "yes")), node("b")}
	res, _ := Reconcile(ds, nodes, []*corev1.Pod{daemonPod("p-b", "b", "1", corev1.PodRunning)}, env())
	st := res.Status
	if st.DesiredNumberScheduled != 1 || st.NumberMisscheduled != 1 || st.CurrentNumberScheduled != 0 || st.NumberUnavailable != 1 {
		t.Fatalf("status %+v", st)
	}
}
