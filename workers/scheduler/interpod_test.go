package scheduler

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const zoneKey = corev1.LabelTopologyZone

// podTerm selects the pods labelled app=<app>, in the carrying pod's
// namespace unless opts say otherwise.
func podTerm(topologyKey, app string, opts ...func(*corev1.PodAffinityTerm)) corev1.PodAffinityTerm {
	t := corev1.PodAffinityTerm{TopologyKey: topologyKey, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}
	for _, o := range opts {
		o(&t)
	}
	return t
}

func inNamespaces(ns ...string) func(*corev1.PodAffinityTerm) {
	return func(t *corev1.PodAffinityTerm) { t.Namespaces = ns }
}

func selectingNamespaces(sel map[string]string) func(*corev1.PodAffinityTerm) {
	return func(t *corev1.PodAffinityTerm) { t.NamespaceSelector = &metav1.LabelSelector{MatchLabels: sel} }
}

func podAffinity(p *corev1.Pod) *corev1.PodAffinity {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &corev1.Affinity{}
	}
	if p.Spec.Affinity.PodAffinity == nil {
		p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{}
	}
	return p.Spec.Affinity.PodAffinity
}

func podAntiAffinity(p *corev1.Pod) *corev1.PodAntiAffinity {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &corev1.Affinity{}
	}
	if p.Spec.Affinity.PodAntiAffinity == nil {
		p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
	return p.Spec.Affinity.PodAntiAffinity
}

func near(t corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		a := podAffinity(p)
		a.RequiredDuringSchedulingIgnoredDuringExecution = append(a.RequiredDuringSchedulingIgnoredDuringExecution, t)
	}
}

func awayFrom(t corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		a := podAntiAffinity(p)
		a.RequiredDuringSchedulingIgnoredDuringExecution = append(a.RequiredDuringSchedulingIgnoredDuringExecution, t)
	}
}

func preferNear(weight int32, t corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		a := podAffinity(p)
		a.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: t})
	}
}

func preferAwayFrom(weight int32, t corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		a := podAntiAffinity(p)
		a.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: t})
	}
}

func app(name string) podOpt          { return withPodLabel("app", name) }
func withPodLabel(k, v string) podOpt { return func(p *corev1.Pod) { p.Labels[k] = v } }
func inNamespace(ns string) podOpt    { return func(p *corev1.Pod) { p.Namespace = ns } }
func terminating() podOpt             { return func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} } }
func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func zone(z string) nodeOpt { return withLabel(zoneKey, z) }

func TestInterPodAffinity(t *testing.T) {
	host := corev1.LabelHostname
	three := func() []*corev1.Node {
		return []*corev1.Node{makeNode("a", "4", "8Gi"), makeNode("b", "4", "8Gi"), makeNode("c", "4", "8Gi")}
	}
	tests := []placement{
		{"affinity co-locates on the node", three(), []placed{{makePod("db", "", "", app("db")), "b"}},
			makePod("p", "", "", app("web"), near(podTerm(host, "db"))), "b", ""},
		{"affinity by zone takes any node of the zone",
			[]*corev1.Node{makeNode("a", "8", "8Gi", zone("z1")), makeNode("b", "1", "8Gi", zone("z2")), makeNode("c", "4", "8Gi", zone("z2"))},
			[]placed{{makePod("db", "1", "", app("db")), "b"}}, // b is full: c shares its zone
			makePod("p", "500m", "", app("web"), near(podTerm(zoneKey, "db"))), "c", ""},
		{"affinity with no matching pod", three(), []placed{{makePod("x", "", "", app("cache")), "a"}},
			makePod("p", "", "", app("web"), near(podTerm(host, "db"))), "",
			"0/3 nodes are available: 3 node(s) didn't match pod affinity rules."},
		{"first pod of a group goes anywhere with the topology label",
			[]*corev1.Node{makeNode("a", "8", "8Gi"), makeNode("b", "4", "8Gi", zone("z1"))}, nil,
			makePod("p", "", "", app("web"), near(podTerm(zoneKey, "web"))), "b", ""},
		{"affinity terms must all match one pod", three(),
			[]placed{{makePod("db", "", "", app("db")), "a"}, {makePod("cache", "", "", app("cache")), "a"}},
			makePod("p", "", "", app("web"), near(podTerm(host, "db")), near(podTerm(host, "cache"))), "",
			"0/3 nodes are available: 3 node(s) didn't match pod affinity rules."},
		{"anti-affinity avoids the node", []*corev1.Node{makeNode("a", "4", "8Gi"), makeNode("b", "1", "8Gi")},
			[]placed{{makePod("db", "", "", app("db")), "a"}},
			makePod("p", "", "", app("web"), awayFrom(podTerm(host, "db"))), "b", ""},
		{"anti-affinity by zone avoids the zone",
			[]*corev1.Node{makeNode("a", "4", "8Gi", zone("z1")), makeNode("b", "4", "8Gi", zone("z1")), makeNode("c", "1", "8Gi", zone("z2"))},
			[]placed{{makePod("db", "", "", app("db")), "a"}},
			makePod("p", "", "", app("web"), awayFrom(podTerm(zoneKey, "db"))), "c", ""},
		{"existing pod's anti-affinity rejects a pod without terms", []*corev1.Node{makeNode("a", "4", "8Gi")},
			[]placed{{makePod("guard", "", "", awayFrom(podTerm(host, "web"))), "a"}},
			makePod("p", "", "", app("web")), "",
			"0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules."},
		{"existing pod's anti-affinity leaves other nodes", []*corev1.Node{makeNode("a", "4", "8Gi"), makeNode("b", "1", "8Gi")},
			[]placed{{makePod("guard", "", "", awayFrom(podTerm(host, "web"))), "a"}},
			makePod("p", "", "", app("web")), "b", ""},
		{"existing pod's anti-affinity is for its own namespace", []*corev1.Node{makeNode("a", "1", "8Gi"), makeNode("b", "4", "8Gi")},
			[]placed{{makePod("guard", "", "", inNamespace("other"), awayFrom(podTerm(host, "web"))), "a"}, {makePod("guard", "", "", awayFrom(podTerm(host, "web"))), "b"}},
			makePod("p", "", "", app("web")), "a", ""},
		{"the pod's own affinity fails first", []*corev1.Node{makeNode("a", "4", "8Gi")},
			[]placed{{makePod("guard", "", "", app("db"), awayFrom(podTerm(host, "web"))), "a"}},
			makePod("p", "", "", app("web"), near(podTerm(host, "cache")), awayFrom(podTerm(host, "db"))), "",
			"0/1 nodes are available: 1 node(s) didn't match pod affinity rules."},
		{"terms see the pod's namespace by default", []*corev1.Node{makeNode("a", "1", "8Gi"), makeNode("b", "4", "8Gi")},
			[]placed{{makePod("db", "", "", inNamespace("data"), app("db")), "a"}, {makePod("db", "", "", app("db")), "b"}},
			makePod("p", "", "", app("web"), awayFrom(podTerm(host, "db"))), "a", ""},
		{"terms see the namespaces listed, only those", []*corev1.Node{makeNode("a", "4", "8Gi"), makeNode("b", "1", "8Gi")},
			[]placed{{makePod("db", "", "", inNamespace("data"), app("db")), "a"}, {makePod("db", "", "", app("db")), "b"}},
			makePod("p", "", "", app("web"), awayFrom(podTerm(host, "db", inNamespaces("data")))), "b", ""},
		{"an empty namespaceSelector sees every namespace", []*corev1.Node{makeNode("a", "4", "8Gi"), makeNode("b", "1", "8Gi")},
			[]placed{{makePod("db", "", "", inNamespace("data"), app("db")), "a"}},
			makePod("p", "", "", app("web"), awayFrom(podTerm(host, "db", selectingNamespaces(nil)))), "b", ""},
		{"terminating pods do not count", []*corev1.Node{makeNode("a", "1", "8Gi"), makeNode("b", "4", "8Gi")},
			[]placed{{makePod("db-old", "", "", app("db"), terminating()), "a"}, {makePod("db", "", "", app("db")), "b"}},
			makePod("p", "", "", app("web"), awayFrom(podTerm(host, "db"))), "a", ""},
		{"terminating pods' anti-affinity does not count", []*corev1.Node{makeNode("a", "1", "8Gi"), makeNode("b", "4", "8Gi")},
			[]placed{{makePod("guard-old", "", "", terminating(), awayFrom(podTerm(host, "web"))), "a"}, {makePod("guard", "", "", awayFrom(podTerm(host, "web"))), "b"}},
			makePod("p", "", "", app("web")), "a", ""},
		{"terminal pods do not count", []*corev1.Node{makeNode("a", "1", "8Gi"), makeNode("b", "4", "8Gi")},
			[]placed{{makePod("db-done", "", "", app("db"), phase(corev1.PodSucceeded)), "a"}, {makePod("guard-failed", "", "", phase(corev1.PodFailed), awayFrom(podTerm(host, "web"))), "a"},
				{makePod("db", "", "", app("db")), "b"}},
			makePod("p", "", "", app("web"), awayFrom(podTerm(host, "db"))), "a", ""},
		{"terminating pods are no affinity target", three(), []placed{{makePod("db", "", "", app("db"), terminating()), "a"}},
			makePod("p", "", "", app("web"), near(podTerm(host, "db"))), "",
			"0/3 nodes are available: 3 node(s) didn't match pod affinity rules."},
		{"matchLabelKeys narrows the selector to the pod's value", []*corev1.Node{makeNode("a", "1", "8Gi"), makeNode("b", "4", "8Gi")},
			[]placed{{makePod("old", "", "", app("web"), withPodLabel("rev", "1")), "a"}, {makePod("new", "", "", app("web"), withPodLabel("rev", "2")), "b"}},
			makePod("p", "", "", app("web"), withPodLabel("rev", "1"), near(podTerm(host, "web", func(t *corev1.PodAffinityTerm) { t.MatchLabelKeys = []string{"rev"} }))), "a", ""},
		{"mismatchLabelKeys keeps pods with another value away", []*corev1.Node{makeNode("a", "4", "8Gi"), makeNode("b", "1", "8Gi")},
			[]placed{{makePod("t1", "", "", app("web"), withPodLabel("tenant", "t1")), "a"}, {makePod("t2", "", "", app("web"), withPodLabel("tenant", "t2")), "b"}},
			makePod("p", "", "", app("web"), withPodLabel("tenant", "t2"), awayFrom(podTerm(host, "web", func(t *corev1.PodAffinityTerm) { t.MismatchLabelKeys = []string{"tenant"} }))), "b", ""},
		// Scores. Without pod affinity the least-allocated score picks the
		// emptier or bigger node; each case expects the other one.
		{"preferred affinity draws the pod", three(), []placed{{makePod("db", "", "", app("db")), "c"}},
			makePod("p", "", "", app("web"), preferNear(50, podTerm(host, "db"))), "c", ""},
		{"preferred anti-affinity pushes the pod away",
			[]*corev1.Node{makeNode("a", "16", "32Gi"), makeNode("b", "4", "8Gi")}, []placed{{makePod("db", "", "", app("db")), "a"}},
			makePod("p", "1", "2Gi", app("web"), preferAwayFrom(50, podTerm(host, "db"))), "b", ""},
		{"preferred anti-affinity of existing pods pushes the pod away",
			[]*corev1.Node{makeNode("a", "16", "32Gi"), makeNode("b", "4", "8Gi")},
			[]placed{{makePod("guard", "", "", preferAwayFrom(50, podTerm(host, "web"))), "a"}},
			makePod("p", "1", "2Gi", app("web")), "b", ""},
		{"preferred affinity of existing pods draws the pod", three(),
			[]placed{{makePod("fan", "", "", preferNear(50, podTerm(host, "web"))), "c"}},
			makePod("p", "", "", app("web")), "c", ""},
		{"required affinity of existing pods draws the pod", three(),
			[]placed{{makePod("fan", "", "", near(podTerm(host, "web"))), "c"}},
			makePod("p", "", "", app("web")), "c", ""},
	}
	runPlacements(t, tests)
}

// TestPodAffinityNamespaceSelector: a namespaceSelector matches the
// namespaces' labels, kubernetes.io/metadata.name included.
func TestPodAffinityNamespaceSelector(t *testing.T) {
	view := newFakeView(makeNode("a", "4", "8Gi"), makeNode("b", "4", "8Gi"), makeNode("c", "1", "8Gi"))
	view.namespaces = []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: map[string]string{"team": "storage"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"team": "web"}}},
	}
	view.bind(makePod("db", "", "", inNamespace("data"), app("db")), "a")
	view.bind(makePod("db", "", "", inNamespace("web"), app("db")), "b")
	for _, sel := range []map[string]string{{"team": "storage"}, {corev1.LabelMetadataName: "data"}} {
		pod := makePod("p", "", "", app("x"), near(podTerm(corev1.LabelHostname, "db", selectingNamespaces(sel))))
		if d, err := Schedule(view, pod, Config{Seed: 1}); err != nil || d.Node != "a" {
			t.Errorf("selector %v: got %q %v, want a", sel, d.Node, err)
		}
	}
	pod := makePod("p", "", "", app("x"), near(podTerm(corev1.LabelHostname, "db", selectingNamespaces(map[string]string{"team": "none"}))))
	_, err := Schedule(view, pod, Config{Seed: 1})
	if want := "0/3 nodes are available: 3 node(s) didn't match pod affinity rules."; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// computeFourReplicasOnThreeNodes plans four pods labelled app=web, each
// with rule, on three equal nodes.
func computeFourReplicasOnThreeNodes(rule podOpt) Plan {
	view := newFakeView(makeNode("a", "8", "16Gi"), makeNode("b", "8", "16Gi"), makeNode("c", "8", "16Gi"))
	var pending []*corev1.Pod
	for i := range 4 {
		pending = append(pending, makePod(named("web", i), "100m", "128Mi", app("web"), rule))
	}
	return Compute(view, pending, Config{Seed: 1})
}

// TestComputePodAntiAffinitySpreadsReplicas: replicas that avoid each other
// on kubernetes.io/hostname take one node each; the one too many stays
// pending with kube-scheduler's words.
func TestComputePodAntiAffinitySpreadsReplicas(t *testing.T) {
	plan := computeFourReplicasOnThreeNodes(awayFrom(podTerm(corev1.LabelHostname, "web")))
	nodes := map[string]bool{}
	for _, b := range plan.Bindings {
		nodes[b.Node] = true
	}
	if len(plan.Bindings) != 3 || len(nodes) != 3 || len(plan.Failures) != 1 {
		t.Fatalf("want 3 bindings on 3 nodes and 1 failure, got %+v", plan)
	}
	if got, want := plan.Failures[0].Reason, "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."; got != want {
		t.Fatalf("reason\n got: %s\nwant: %s", got, want)
	}
}

// TestComputePodAffinityFollowsTheFirstReplica: replicas that want each
// other on one node: the first goes anywhere, the rest join it.
func TestComputePodAffinityFollowsTheFirstReplica(t *testing.T) {
	plan := computeFourReplicasOnThreeNodes(near(podTerm(corev1.LabelHostname, "web")))
	if len(plan.Bindings) != 4 {
		t.Fatalf("want 4 bindings, got %+v", plan)
	}
	for _, b := range plan.Bindings {
		if b.Node != plan.Bindings[0].Node {
			t.Fatalf("want every replica with the first, got %+v", plan.Bindings)
		}
	}
}

// TestCacheTracksPodsWithTerms: the existing-pod checks follow the cache as
// a pod with terms is assumed, marked terminating and removed.
func TestCacheTracksPodsWithTerms(t *testing.T) {
	c := Snapshot(newFakeView(makeNode("a", "4", "8Gi")), Config{})
	guard := makePod("guard", "", "", awayFrom(podTerm(corev1.LabelHostname, "web")))
	web := makePod("p", "", "", app("web"))
	if err := c.Assume(guard, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Schedule(web); !errors.Is(err, ErrUnschedulable) {
		t.Fatalf("want web unschedulable next to the assumed guard, got %v", err)
	}
	leaving := guard.DeepCopy()
	leaving.Spec.NodeName, leaving.DeletionTimestamp = "a", &metav1.Time{}
	if err := c.AddPod(leaving); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Schedule(web); err != nil || d.Node != "a" {
		t.Fatalf("want web on a once the guard is terminating, got %+v %v", d, err)
	}
	if err := c.Assume(guard, "a"); err != nil {
		t.Fatal(err)
	}
	c.RemovePod(guard)
	if d, err := c.Schedule(web); err != nil || d.Node != "a" {
		t.Fatalf("want web on a once the guard is gone, got %+v %v", d, err)
	}
	if len(c.termPods) != 0 {
		t.Fatalf("termPods left: %v", c.termPods)
	}
}
