package owned

import (
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-sh/gantry/projections"
)

type rsLoop = Loop[appsv1.ReplicaSet, corev1.Pod, *appsv1.ReplicaSet, *corev1.Pod]

func change(t *testing.T, kind string, seq uint64, obj metav1.Object) projections.Change {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return projections.Change{Entry: projections.Entry{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Raw: raw, Seq: seq}}
}

func rs(name, uid string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)},
		Spec:       appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	}
}

func pod(name, app string, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"app": app}}}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

func controller(kind, uid string) *metav1.OwnerReference {
	yes := true
	return &metav1.OwnerReference{Kind: kind, Name: "x", UID: types.UID(uid), Controller: &yes}
}

func drain(l *rsLoop) []string {
	var keys []string
	for l.Queue.Len() > 0 {
		k, _ := l.Queue.Get()
		l.Queue.Done(k)
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestObserveWakesOwners(t *testing.T) {
	selector := func(o *appsv1.ReplicaSet) *metav1.LabelSelector { return o.Spec.Selector }
	tests := []struct {
		name     string
		selector func(*appsv1.ReplicaSet) *metav1.LabelSelector
		pod      *corev1.Pod
		want     []string
	}{
		{"controlled pod wakes its owner", nil, pod("p", "b", controller("ReplicaSet", "uid-a")), []string{"ns/a"}},
		{"another kind's pod wakes nothing", selector, pod("p", "a", controller("Job", "uid-a")), nil},
		{"orphan without selector wakes nothing", nil, pod("p", "a", nil), nil},
		{"orphan wakes matching owners", selector, pod("p", "b", nil), []string{"ns/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(projections.NewView(nil), Config[appsv1.ReplicaSet, corev1.Pod]{
				Owner: "replicaset", Child: "pod", Controller: "ReplicaSet", Selector: tt.selector,
			})
			l.observe(change(t, "replicaset", 1, rs("a", "uid-a")))
			l.observe(change(t, "replicaset", 2, rs("b", "uid-b")))
			if got := drain(l); !slices.Equal(got, []string{"ns/a", "ns/b"}) {
				t.Fatalf("owner changes queued %v", got)
			}
			l.observe(change(t, "pod", 3, tt.pod))
			if got := drain(l); !slices.Equal(got, tt.want) {
				t.Fatalf("queued %v, want %v", got, tt.want)
			}
		})
	}
}

func TestObserveHandsExtraKinds(t *testing.T) {
	var got []string
	l := New(projections.NewView(nil), Config[appsv1.ReplicaSet, corev1.Pod]{
		Owner: "replicaset", Child: "pod", Controller: "ReplicaSet",
		Extra: []string{"node"}, Observe: func(c projections.Change) { got = append(got, c.Kind+"/"+c.Name) },
	})
	l.observe(change(t, "node", 1, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}))
	if !slices.Equal(got, []string{"node/n1"}) {
		t.Fatalf("observed %v", got)
	}
}

func TestChildrenOf(t *testing.T) {
	l := New(projections.NewView(nil), Config[appsv1.ReplicaSet, corev1.Pod]{Owner: "replicaset", Child: "pod", Controller: "ReplicaSet"})
	l.observe(change(t, "replicaset", 1, rs("a", "uid-a")))
	l.observe(change(t, "pod", 2, pod("mine", "a", controller("ReplicaSet", "uid-a"))))
	l.observe(change(t, "pod", 3, pod("orphan", "a", nil)))
	if got := l.ChildrenOf(l.Owners.Get("ns/a")); len(got) != 1 || got[0].Name != "mine" {
		t.Fatalf("children %v", got)
	}
}

func TestNames(t *testing.T) {
	gen := Names(rand.New(rand.NewPCG(1, 2)))
	a, b := gen("web-"), gen("web-")
	if !regexp.MustCompile(`^web-[bcdfghjklmnpqrstvwxz2456789]{5}$`).MatchString(a) || a == b {
		t.Fatalf("names %q %q", a, b)
	}
}

func TestMetricsNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewTimedMetrics("replicaset", "ReplicaSet")
	Register(reg, m.Collectors()...)
	m.Invalid()
	_ = m.Result(nil)
	m.Observe(time.Now())
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fams {
		names = append(names, f.GetName()+": "+f.GetHelp())
	}
	want := "controller_replicaset_reconcile_duration_seconds: Time to reconcile one ReplicaSet, commands included.\n" +
		"controller_replicaset_reconciles_total: ReplicaSet reconciles by result."
	if got := strings.Join(names, "\n"); got != want {
		t.Fatalf("metrics\n%s\nwant\n%s", got, want)
	}
	if len(NewMetrics("job", "Job").Collectors()) != 1 {
		t.Fatal("untimed metrics have a duration")
	}
}
