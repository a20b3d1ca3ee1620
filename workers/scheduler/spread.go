package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// spreadIndex counts, per node, the pods of one namespace matching one label
// selector. The cache builds an index the first time a topology spread
// constraint asks for it and keeps it current as pods come and go.
type spreadIndex struct {
	namespace string
	selector  labels.Selector
	perNode   map[string]int
}

func (s *spreadIndex) matches(pod *corev1.Pod) bool {
	return pod.Namespace == s.namespace && pod.DeletionTimestamp == nil &&
		s.selector.Matches(labels.Set(pod.Labels))
}

func (s *spreadIndex) update(pod *corev1.Pod, node string, delta int) {
	if s.matches(pod) {
		s.perNode[node] += delta
	}
}

// constraintState is one topology spread constraint evaluated for one pod:
// the matching-pod count of each eligible topology domain and the minimum.
type constraintState struct {
	constraint *corev1.TopologySpreadConstraint
	index      *spreadIndex
	selfMatch  int
	domains    map[string]int
	minCount   int
}

// topologyValue is the node's domain for a key. kubernetes.io/hostname falls
// back to the node name for nodes registered without that label.
func topologyValue(node *corev1.Node, key string) (string, bool) {
	if v, ok := node.Labels[key]; ok {
		return v, true
	}
	if key == corev1.LabelHostname {
		return node.Name, true
	}
	return "", false
}

// spreadStates evaluates the pod's constraints with the given
// whenUnsatisfiable against the whole cluster.
func (c *Cache) spreadStates(pod *corev1.Pod, when corev1.UnsatisfiableConstraintAction) []constraintState {
	var out []constraintState
	for i := range pod.Spec.TopologySpreadConstraints {
		tc := &pod.Spec.TopologySpreadConstraints[i]
		if tc.WhenUnsatisfiable != when {
			continue
		}
		idx := c.spreadIndexFor(pod.Namespace, tc.LabelSelector)
		st := constraintState{constraint: tc, index: idx, domains: map[string]int{}}
		if idx.selector.Matches(labels.Set(pod.Labels)) {
			st.selfMatch = 1
		}
		c.countDomains(pod, &st)
		out = append(out, st)
	}
	return out
}

// countDomains sums the index over nodes eligible for the pod (node affinity
// honoured, taints ignored: the Kubernetes defaults).
func (c *Cache) countDomains(pod *corev1.Pod, st *constraintState) {
	for _, ni := range c.nodes {
		dom, ok := topologyValue(ni.node, st.constraint.TopologyKey)
		if !ok || !matchesNodeSelectorAndAffinity(pod, ni.node) {
			continue
		}
		st.domains[dom] += st.index.perNode[ni.node.Name]
	}
	first := true
	for _, n := range st.domains {
		if first || n < st.minCount {
			st.minCount, first = n, false
		}
	}
}

func (c *Cache) spreadIndexFor(namespace string, sel *metav1.LabelSelector) *spreadIndex {
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		selector = labels.Nothing()
	}
	key := namespace + "|" + selector.String()
	if idx, ok := c.spreads[key]; ok {
		return idx
	}
	idx := &spreadIndex{namespace: namespace, selector: selector, perNode: map[string]int{}}
	for _, ni := range c.nodes {
		for _, p := range ni.pods {
			idx.update(p, ni.node.Name, 1)
		}
	}
	c.spreads[key] = idx
	return idx
}

// spreadFilter checks DoNotSchedule constraints on one node.
func spreadFilter(states []constraintState, node *corev1.Node) string {
	for i := range states {
		st := &states[i]
		dom, ok := topologyValue(node, st.constraint.TopologyKey)
		if !ok {
			return reasonSpreadMissing
		}
		skew := st.domains[dom] + st.selfMatch - st.minCount
		if skew > int(st.constraint.MaxSkew) {
			return reasonSpread
		}
	}
	return ""
}

// spreadRaw is the ScheduleAnyway score input for one node: the matching
// pods in its domains (lower is better); -1 when a domain label is missing.
func spreadRaw(states []constraintState, node *corev1.Node) int64 {
	var sum int64
	for i := range states {
		dom, ok := topologyValue(node, states[i].constraint.TopologyKey)
		if !ok {
			return -1
		}
		sum += int64(states[i].domains[dom])
	}
	return sum
}
