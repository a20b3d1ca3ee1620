package statefulset

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func makeSet(replicas int32, opts ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "web-uid", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, ServiceName: "nginx",
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1"}}},
			},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func parallel(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
func withClaim(s *appsv1.StatefulSet) {
	s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}
}

// pod states
const (
	ready   = "ready"   // running and ready
	pending = "pending" // created, not ready
	gone    = "-"       // absent
	term    = "term"    // terminating
	failed  = "failed"
	old     = "old" // ready, previous revision
)

// podsOf builds set's pods, state[i] for ordinal i.
func podsOf(set *appsv1.StatefulSet, states ...string) []*corev1.Pod {
	var out []*corev1.Pod
	for i, s := range states {
		if s == gone {
			continue
		}
		p := newPod(set, i, revision(set), "/d", "")
		switch s {
		case ready, old, term:
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))}}
		case failed:
			p.Status.Phase = corev1.PodFailed
		}
		if s == old {
			p.Labels[LabelRevisionHash] = "web-old"
		}
		if s == term {
			p.DeletionTimestamp = &metav1.Time{Time: t0}
		}
		out = append(out, p)
	}
	return out
}

func names(ps []*corev1.Pod) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestReconcile(t *testing.T) {
	tests := []struct {
		name               string
		set                *appsv1.StatefulSet
		pods               []string
		wantCreate, wantDe []string
	}{
		{"ordered: creates web-0 alone", makeSet(3), nil, []string{"web-0"}, []string{}},
		{"ordered: waits for web-0 ready", makeSet(3), []string{pending}, []string{}, []string{}},
		{"ordered: web-1 once web-0 ready", makeSet(3), []string{ready}, []string{"web-1"}, []string{}},
		{"ordered: fills a hole first", makeSet(3), []string{ready, gone, ready}, []string{"web-1"}, []string{}},
		{"ordered: replaces a failed pod", makeSet(2), []string{ready, failed}, []string{}, []string{"web-1"}},
		{"ordered: waits for a terminating pod", makeSet(2), []string{term, ready}, []string{}, []string{}},
		{"ordered: scale down deletes the highest", makeSet(1), []string{ready, ready, ready}, []string{}, []string{"web-2"}},
		{"ordered: scale down waits for it to go", makeSet(1), []string{ready, ready, term}, []string{}, []string{}},
		{"ordered: scale down waits for unhealthy replicas", makeSet(1), []string{pending, ready}, []string{}, []string{}},
		{"parallel: creates all", makeSet(3, parallel), nil, []string{"web-0", "web-1", "web-2"}, []string{}},
		{"parallel: deletes all condemned", makeSet(1, parallel), []string{ready, pending, ready}, []string{}, []string{"web-2", "web-1"}},
		{"rolling update: highest first", makeSet(3), []string{old, old, old}, []string{}, []string{"web-2"}},
		{"rolling update: waits for the replaced pod", makeSet(3), []string{old, old, pending}, []string{}, []string{}},
		{"rolling update: then the next", makeSet(3), []string{old, old, ready}, []string{}, []string{"web-1"}},
		{"rolling update: partition", makeSet(3, func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(2))}
		}), []string{old, old, ready}, []string{}, []string{}},
		{"on delete: no update", makeSet(2, func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType }),
			[]string{old, old}, []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Reconcile(tt.set, podsOf(tt.set, tt.pods...), Env{Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if c, d := names(res.Create), names(res.Delete); !slices.Equal(c, tt.wantCreate) || !slices.Equal(d, tt.wantDe) {
				t.Fatalf("create %v delete %v, want %v %v", c, d, tt.wantCreate, tt.wantDe)
			}
		})
	}
}

// TestScaleUpThenDownOrder drives a set of three up and down with a fake
// kubelet that makes each created pod ready and removes each deleted one.
func TestScaleUpThenDownOrder(t *testing.T) {
	set := makeSet(3)
	pods := map[string]*corev1.Pod{}
	var log []string
	drive := func() {
		for range 20 {
			var list []*corev1.Pod
			for _, p := range pods {
				list = append(list, p)
			}
			res, _ := Reconcile(set, list, Env{Now: t0})
			if len(res.Create)+len(res.Delete) == 0 {
				return
			}
			for _, p := range res.Create {
				p.Status.Phase = corev1.PodRunning
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
				pods[p.Name] = p
				log = append(log, "+"+p.Name)
			}
			for _, p := range res.Delete {
				delete(pods, p.Name)
				log = append(log, "-"+p.Name)
			}
		}
	}
	drive()
	set.Spec.Replicas = ptr(int32(0))
	drive()
	want := []string{"+web-0", "+web-1", "+web-2", "-web-2", "-web-1", "-web-0"}
	if !slices.Equal(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
}

func TestIdentityAndVolumes(t *testing.T) {
	set := makeSet(2, withClaim)
	res, _ := Reconcile(set, nil, Env{Now: t0, DataDir: "/data"})
	p := res.Create[0]
	if p.Name != "web-0" || p.Spec.Hostname != "web-0" || p.Spec.Subdomain != "nginx" || p.Labels[LabelPodName] != "web-0" || p.Labels[LabelPodIndex] != "0" {
		t.Fatalf("identity %+v %+v", p.ObjectMeta, p.Spec)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "StatefulSet" || ref.UID != "web-uid" {
		t.Fatalf("owner %+v", p.OwnerReferences)
	}
	v := p.Spec.Volumes[0]
	if v.Name != "data" || v.HostPath == nil || v.HostPath.Path != "/data/volumes/default/web/data-0" || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate {
		t.Fatalf("volume %+v", v)
	}
	if p.Spec.Affinity != nil {
		t.Fatal("a pod whose volume has no node yet is not pinned")
	}
}

func TestVolumeNodeRecordedAndPinned(t *testing.T) {
	set := makeSet(2, withClaim)
	pods := podsOf(set, ready, ready)
	pods[1].Spec.NodeName = "node-b"
	res, _ := Reconcile(set, pods, Env{Now: t0})
	if res.VolumeNodes["1"] != "node-b" || len(res.VolumeNodes) != 1 {
		t.Fatalf("volume nodes %v", res.VolumeNodes)
	}
	set.Annotations = map[string]string{AnnotationVolumeNodes: `{"1":"node-b"}`}
	res, _ = Reconcile(set, pods[:1], Env{Now: t0}) // web-1 is gone: rescheduled
	if res.VolumeNodes != nil {
		t.Fatalf("nothing new to record, got %v", res.VolumeNodes)
	}
	if len(res.Create) != 1 || res.Create[0].Name != "web-1" {
		t.Fatalf("create %v", names(res.Create))
	}
	terms := res.Create[0].Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchFields[0].Key != "metadata.name" || terms[0].MatchFields[0].Values[0] != "node-b" {
		t.Fatalf("affinity %+v", terms)
	}
	if res.Create[0].Spec.Volumes[0].HostPath.Path != "/var/lib/gantry/volumes/default/web/data-1" {
		t.Fatalf("volume %s", res.Create[0].Spec.Volumes[0].HostPath.Path)
	}
}

func TestPinKeepsTemplateAffinity(t *testing.T) {
	set := makeSet(1, withClaim, func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}},
		}}}
		s.Annotations = map[string]string{AnnotationVolumeNodes: `{"0":"n1"}`}
	})
	res, _ := Reconcile(set, nil, Env{Now: t0})
	term := res.Create[0].Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0]
	if len(term.MatchExpressions) != 1 || len(term.MatchFields) != 1 {
		t.Fatalf("term %+v", term)
	}
	if set.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields != nil {
		t.Fatal("the template was modified")
	}
}

func TestStatus(t *testing.T) {
	set := makeSet(3)
	set.Status.CurrentRevision = "web-old"
	res, _ := Reconcile(set, podsOf(set, old, ready, pending), Env{Now: t0})
	st := res.Status
	if st.Replicas != 3 || st.ReadyReplicas != 2 || st.AvailableReplicas != 2 || st.CurrentReplicas != 1 || st.UpdatedReplicas != 2 ||
		st.CurrentRevision != "web-old" || st.UpdateRevision != revision(set) || st.ObservedGeneration != 1 {
		t.Fatalf("status %+v", st)
	}
	res, _ = Reconcile(set, podsOf(set, ready, ready, ready), Env{Now: t0})
	if res.Status.CurrentRevision != revision(set) || res.Status.CurrentReplicas != 3 {
		t.Fatalf("update complete: status %+v", res.Status)
	}
}

func TestMinReadySeconds(t *testing.T) {
	set := makeSet(1, func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = 10 })
	pods := podsOf(set, ready)
	pods[0].Status.Conditions[0].LastTransitionTime = metav1.NewTime(t0.Add(-4 * time.Second))
	res, _ := Reconcile(set, pods, Env{Now: t0})
	if res.Status.AvailableReplicas != 0 || res.RequeueAfter != 6*time.Second {
		t.Fatalf("status %+v requeue %v", res.Status, res.RequeueAfter)
	}
}

func TestOrdinalOf(t *testing.T) {
	set := makeSet(1)
	for name, want := range map[string]int{"web-0": 0, "web-12": 12, "web-01": -1, "web-x": -1, "webby-1": -1, "web--1": -1} {
		if got := ordinalOf(set, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}); got != want {
			t.Errorf("%s: %d, want %d", name, got, want)
		}
	}
}
