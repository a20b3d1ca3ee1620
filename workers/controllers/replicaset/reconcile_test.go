package replicaset

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func sequentialNames() func(string) string {
	n := 0
	return func(prefix string) string { n++; return fmt.Sprintf("%s%d", prefix, n) }
}

func env() Env { return Env{Now: t0, NewName: sequentialNames()} }

func makeRS(replicas int32, minReady int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "rs-uid", Generation: 4},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &replicas,
			MinReadySeconds: minReady,
			Selector:        &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:v1"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func makePod(name string, rs *appsv1.ReplicaSet, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "default", Labels: map[string]string{"app": "web", "tier": "front"},
		CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
	}}
	if rs != nil {
		p.OwnerReferences = []metav1.OwnerReference{ControllerRef(rs)}
	}
	p.Spec.NodeName = "node-1"
	p.Status.Phase = corev1.PodRunning
	for _, o := range opts {
		o(p)
	}
	return p
}

func readyAt(at time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)}}
	}
}
func onNode(n string) podOpt          { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func created(at time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(at) }
}
func labelled(k, v string) podOpt { return func(p *corev1.Pod) { p.Labels[k] = v } }
func deleting() podOpt {
	return func(p *corev1.Pod) { ts := metav1.NewTime(t0); p.DeletionTimestamp = &ts }
}
func cost(c string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{PodDeletionCostAnnotation: c} }
}

func names(pods []*corev1.Pod) string {
	var s []string
	for _, p := range pods {
		s = append(s, p.Name)
	}
	return strings.Join(s, ",")
}

func TestScaleUpCreatesFromTemplate(t *testing.T) {
	rs := makeRS(3, 0)
	res, err := Reconcile(rs, []*corev1.Pod{makePod("web-a", rs, readyAt(t0))}, env())
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.Create); got != "web-1,web-2" {
		t.Fatalf("create %s", got)
	}
	p := res.Create[0]
	ref := metav1.GetControllerOf(p)
	if p.Namespace != "default" || p.GenerateName != "web-" || p.Labels["tier"] != "front" ||
		p.Spec.Containers[0].Image != "web:v1" || ref == nil || ref.UID != "rs-uid" {
		t.Fatalf("pod not built from template: %+v", p)
	}
	p.Labels["x"] = "y"
	if _, ok := rs.Spec.Template.Labels["x"]; ok {
		t.Fatal("created pod shares the template's label map")
	}
}

func TestScaleDownOrder(t *testing.T) {
	rs := makeRS(1, 0)
	tests := []struct {
		name string
		pods []*corev1.Pod
		want string // deleted, in order
	}{
		{"unscheduled first", []*corev1.Pod{makePod("a", rs, readyAt(t0)), makePod("b", rs, onNode(""), phase(corev1.PodPending))}, "b"},
		{"pending before running", []*corev1.Pod{makePod("a", rs, readyAt(t0)), makePod("b", rs, phase(corev1.PodPending))}, "b"},
		{"not ready before ready", []*corev1.Pod{makePod("a", rs), makePod("b", rs, readyAt(t0))}, "a"},
		{"doubled-up node first", []*corev1.Pod{makePod("a", rs, readyAt(t0), onNode("n1")), makePod("b", rs, readyAt(t0), onNode("n2")), makePod("c", rs, readyAt(t0), onNode("n2"))}, "b,c"},
		{"lower deletion cost first", []*corev1.Pod{makePod("a", rs, readyAt(t0), cost("10")), makePod("b", rs, readyAt(t0), cost("-5"))}, "b"},
		{"recently ready first", []*corev1.Pod{makePod("a", rs, readyAt(t0.Add(-time.Hour))), makePod("b", rs, readyAt(t0))}, "b"},
		{"newest first", []*corev1.Pod{makePod("a", rs, readyAt(t0), created(t0)), makePod("b", rs, readyAt(t0), created(t0.Add(-time.Hour)))}, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Reconcile(rs, tt.pods, env())
			if err != nil {
				t.Fatal(err)
			}
			if got := names(res.Delete); got != tt.want {
				t.Fatalf("deleted %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClaim(t *testing.T) {
	rs := makeRS(2, 0)
	other := makeRS(1, 0)
	other.Name, other.UID = "other", "other-uid"
	pods := []*corev1.Pod{
		makePod("owned", rs, readyAt(t0)),
		makePod("orphan", nil, readyAt(t0)),
		makePod("relabelled", rs, readyAt(t0), labelled("app", "debug")),
		makePod("foreign", other, readyAt(t0)),
		makePod("orphan-other-labels", nil, labelled("app", "db")),
		makePod("orphan-deleting", nil, deleting()),
	}
	res, err := Reconcile(rs, pods, env())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, got, want string }{
		{"adopt", names(res.Adopt), "orphan"},
		{"release", names(res.Release), "relabelled"},
		{"create", names(res.Create), ""},
		{"delete", names(res.Delete), ""},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}

func TestStatus(t *testing.T) {
	rs := makeRS(4, 30)
	pods := []*corev1.Pod{
		makePod("long-ready", rs, readyAt(t0.Add(-time.Minute))),
		makePod("just-ready", rs, readyAt(t0.Add(-10*time.Second))),
		makePod("not-ready", rs),
		makePod("partly-labelled", rs, readyAt(t0.Add(-time.Minute)), func(p *corev1.Pod) { delete(p.Labels, "tier") }),
		makePod("terminating", rs, readyAt(t0), deleting()),
		makePod("done", rs, phase(corev1.PodSucceeded)),
	}
	res, err := Reconcile(rs, pods, env())
	if err != nil {
		t.Fatal(err)
	}
	st := res.Status
	if st.Replicas != 4 || st.FullyLabeledReplicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 2 ||
		*st.TerminatingReplicas != 1 || st.ObservedGeneration != 4 {
		t.Fatalf("status %+v", st)
	}
	if res.RequeueAfter != 20*time.Second {
		t.Fatalf("requeue after %v, want 20s", res.RequeueAfter)
	}
	if len(res.Create)+len(res.Delete) != 0 {
		t.Fatalf("terminating and finished pods must not be replaced twice: create %d delete %d", len(res.Create), len(res.Delete))
	}
}

func TestDeletingReplicaSetDoesNotScale(t *testing.T) {
	rs := makeRS(3, 0)
	ts := metav1.NewTime(t0)
	rs.DeletionTimestamp = &ts
	res, err := Reconcile(rs, []*corev1.Pod{makePod("orphan", nil)}, env())
	if err != nil || len(res.Create)+len(res.Delete)+len(res.Adopt) != 0 {
		t.Fatalf("got %+v %v", res, err)
	}
}

func TestInvalidSelectorNamesTheObject(t *testing.T) {
	rs := makeRS(1, 0)
	rs.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}
	_, err := Reconcile(rs, nil, env())
	if err == nil || !strings.Contains(err.Error(), "replicaset default/web: spec.selector") {
		t.Fatalf("got %v", err)
	}
}

func TestBurstLimit(t *testing.T) {
	res, err := Reconcile(makeRS(BurstReplicas+20, 0), nil, env())
	if err != nil || len(res.Create) != BurstReplicas {
		t.Fatalf("created %d, err %v", len(res.Create), err)
	}
}

// A pod the reconcile deletes no longer counts in the status it returns:
// a ReplicaSet scaled to 0 never reports an available replica that is on
// its way out (a rollout undo trusted one and dropped below its minimum).
func TestStatusLeavesOutPodsBeingDeleted(t *testing.T) {
	rs := makeRS(0, 0)
	p := makePod("a", rs, onNode("n1"), phase(corev1.PodRunning), readyAt(t0.Add(-time.Minute)))
	res, err := Reconcile(rs, []*corev1.Pod{p}, env())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Delete) != 1 || res.Status.AvailableReplicas != 0 || res.Status.ReadyReplicas != 0 || res.Status.Replicas != 0 {
		t.Fatalf("delete %d, status %+v: want the deleted pod left out", len(res.Delete), res.Status)
	}
}
