package scheduler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// Inter-pod affinity and anti-affinity, as kube-scheduler's InterPodAffinity
// plugin. A term selects pods (a label selector over some namespaces) and
// names a topology key; a node's domain is its value for that key.
//
// Filter, required terms, in kube's order (the first failure is the reason):
//   - the pod's affinity: for every term, the node's domain holds a pod
//     matching all the terms (kube counts a pod for each term only when it
//     matches every one). Unless no pod in the cluster matches and the pod
//     matches its own terms: the first pod of a group goes anywhere.
//   - the pod's anti-affinity: no term finds a matching pod in the domain.
//   - existing pods' anti-affinity: no pod in the domain has a term that
//     matches the incoming pod.
//
// Score, preferred terms: a node gets the weights of the pod's affinity terms
// matched by pods in its domains, minus those of its anti-affinity terms,
// plus the same from existing pods' terms matching the incoming pod (their
// required affinity terms weigh hardPodAffinityWeight); normalised min→0,
// max→100 across the candidates.
//
// Pods being deleted do not count; terminal pods are not in the cache. Kube
// reads a domain from the node's labels only; here kubernetes.io/hostname
// falls back to the node name, as for topology spread.

// hardPodAffinityWeight is kube-scheduler's default InterPodAffinityArgs.
const hardPodAffinityWeight = 1

// affinityTerm is one pod (anti-)affinity term, its selectors parsed.
type affinityTerm struct {
	topologyKey string
	selector    labels.Selector
	namespaces  []string        // matched by name
	nsSelector  labels.Selector // matched against namespace labels; nil for none
	weight      int64           // a preferred term's weight; 1 for a required one
}

// podTerms are the pod affinity terms of one pod; nil for a pod without.
type podTerms struct {
	affinity, antiAffinity         []affinityTerm // required
	preferredAff, preferredAntiAff []affinityTerm
}

// termPod is a bound pod with terms: the cache keeps these apart so that
// existing pods' terms are read without a pass over every pod.
type termPod struct {
	node  *nodeInfo
	terms *podTerms
}

func newPodTerms(pod *corev1.Pod) *podTerms {
	a := pod.Spec.Affinity
	if a == nil || a.PodAffinity == nil && a.PodAntiAffinity == nil {
		return nil
	}
	t := &podTerms{}
	if pa := a.PodAffinity; pa != nil {
		t.affinity = requiredTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
		t.preferredAff = preferredTerms(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		t.antiAffinity = requiredTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
		t.preferredAntiAff = preferredTerms(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if len(t.affinity)+len(t.antiAffinity)+len(t.preferredAff)+len(t.preferredAntiAff) == 0 {
		return nil
	}
	return t
}

func requiredTerms(pod *corev1.Pod, terms []corev1.PodAffinityTerm) []affinityTerm {
	out := make([]affinityTerm, len(terms))
	for i := range terms {
		out[i] = newAffinityTerm(pod, &terms[i], 1)
	}
	return out
}

func preferredTerms(pod *corev1.Pod, terms []corev1.WeightedPodAffinityTerm) []affinityTerm {
	out := make([]affinityTerm, len(terms))
	for i := range terms {
		out[i] = newAffinityTerm(pod, &terms[i].PodAffinityTerm, int64(terms[i].Weight))
	}
	return out
}

// newAffinityTerm parses a term of pod. No namespaces and no
// namespaceSelector mean the pod's namespace; an empty namespaceSelector
// means every namespace. An invalid selector selects nothing.
func newAffinityTerm(pod *corev1.Pod, term *corev1.PodAffinityTerm, weight int64) affinityTerm {
	t := affinityTerm{topologyKey: term.TopologyKey, selector: termSelector(pod, term), namespaces: term.Namespaces, weight: weight}
	if term.NamespaceSelector == nil {
		if len(term.Namespaces) == 0 {
			t.namespaces = []string{pod.Namespace}
		}
		return t
	}
	if sel, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector); err == nil {
		t.nsSelector = sel
	}
	return t
}

// termSelector is the term's labelSelector (nil selects nothing) ANDed with
// `key in (value)` for each of matchLabelKeys and `key notin (value)` for
// each of mismatchLabelKeys, the values read from the pod that carries the
// term and keys it lacks ignored: the merge kube-apiserver does when the pod
// is created, done here as nothing upstream does it.
func termSelector(pod *corev1.Pod, term *corev1.PodAffinityTerm) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return labels.Nothing()
	}
	for _, keys := range []struct {
		keys []string
		op   selection.Operator
	}{{term.MatchLabelKeys, selection.In}, {term.MismatchLabelKeys, selection.NotIn}} {
		for _, key := range keys.keys {
			v, ok := pod.Labels[key]
			if !ok {
				continue
			}
			if r, err := labels.NewRequirement(key, keys.op, []string{v}); err == nil {
				sel = sel.Add(*r)
			}
		}
	}
	return sel
}

// matches reports whether the term selects pod: in one of its namespaces,
// named or selected by the labels nsLabels holds for it, and matching the
// label selector.
func (t *affinityTerm) matches(pod *corev1.Pod, nsLabels map[string]labels.Set) bool {
	if !slices.Contains(t.namespaces, pod.Namespace) &&
		(t.nsSelector == nil || !t.nsSelector.Matches(nsLabels[pod.Namespace])) {
		return false
	}
	return t.selector.Matches(labels.Set(pod.Labels))
}

func matchesAll(terms []affinityTerm, pod *corev1.Pod, nsLabels map[string]labels.Set) bool {
	for i := range terms {
		if !terms[i].matches(pod, nsLabels) {
			return false
		}
	}
	return true
}

// domainCounts holds a number per topology domain: key → value → n.
type domainCounts map[string]map[string]int64

func (d domainCounts) add(key string, node *corev1.Node, n int64) {
	v, ok := topologyValue(node, key)
	if !ok {
		return
	}
	m := d[key]
	if m == nil {
		m = map[string]int64{}
		d[key] = m
	}
	m[v] += n
}

// at is the number of node's domain for key; false when the node has none.
func (d domainCounts) at(key string, node *corev1.Node) (int64, bool) {
	v, ok := topologyValue(node, key)
	if !ok {
		return 0, false
	}
	return d[key][v], true
}

// addMatching adds factor × weight to node's domain for each term pod
// matches.
func (d domainCounts) addMatching(terms []affinityTerm, pod *corev1.Pod, node *corev1.Node, nsLabels map[string]labels.Set, factor int64) {
	for i := range terms {
		if terms[i].matches(pod, nsLabels) {
			d.add(terms[i].topologyKey, node, factor*terms[i].weight)
		}
	}
}

// interPodState is the inter-pod affinity part of a podState, counted once
// per decision (kube's PreFilter and PreScore).
type interPodState struct {
	terms        *podTerms    // the incoming pod's; nil when it has none
	selfMatch    bool         // the pod matches all its required affinity terms
	affinity     domainCounts // pods matching all the required affinity terms
	antiAffinity domainCounts // pods matching a required anti-affinity term
	existing     domainCounts // existing pods' required anti-affinity matching the pod
	score        domainCounts // preferred weights, both ways; nil when none apply
}

// interPodState counts, for a pod with terms, the matching pods per domain
// in one pass over the nodes' pods; existing pods' terms are read from the
// cache's termPods only. It is nil when there is nothing to check.
func (c *Cache) interPodState(pod *corev1.Pod) *interPodState {
	terms := newPodTerms(pod)
	if terms == nil && len(c.termPods) == 0 {
		return nil
	}
	s := &interPodState{terms: terms, existing: domainCounts{}, score: domainCounts{}}
	for _, tp := range c.termPods {
		s.addExisting(tp, pod, c.namespaces)
	}
	if terms != nil {
		s.affinity, s.antiAffinity = domainCounts{}, domainCounts{}
		s.selfMatch = matchesAll(terms.affinity, pod, c.namespaces)
		for _, ni := range c.nodes {
			for _, p := range ni.pods {
				if p.DeletionTimestamp == nil {
					s.addIncoming(p, ni.node, c.namespaces)
				}
			}
		}
	}
	if len(s.score) == 0 {
		s.score = nil
	}
	if terms == nil && len(s.existing) == 0 && s.score == nil {
		return nil
	}
	return s
}

// addExisting folds in the terms of one bound pod that match the incoming pod.
func (s *interPodState) addExisting(tp *termPod, pod *corev1.Pod, nsLabels map[string]labels.Set) {
	node, t := tp.node.node, tp.terms
	s.existing.addMatching(t.antiAffinity, pod, node, nsLabels, 1)
	s.score.addMatching(t.affinity, pod, node, nsLabels, hardPodAffinityWeight)
	s.score.addMatching(t.preferredAff, pod, node, nsLabels, 1)
	s.score.addMatching(t.preferredAntiAff, pod, node, nsLabels, -1)
}

// addIncoming counts one bound pod against the incoming pod's terms.
func (s *interPodState) addIncoming(p *corev1.Pod, node *corev1.Node, nsLabels map[string]labels.Set) {
	t := s.terms
	if len(t.affinity) > 0 && matchesAll(t.affinity, p, nsLabels) {
		for i := range t.affinity {
			s.affinity.add(t.affinity[i].topologyKey, node, 1)
		}
	}
	s.antiAffinity.addMatching(t.antiAffinity, p, node, nsLabels, 1)
	s.score.addMatching(t.preferredAff, p, node, nsLabels, 1)
	s.score.addMatching(t.preferredAntiAff, p, node, nsLabels, -1)
}

// podAffinityFilter checks the required terms on one node.
func podAffinityFilter(s *interPodState, node *corev1.Node) string {
	switch {
	case s == nil:
		return ""
	case !s.affinityFits(node):
		return reasonPodAffinity
	case !s.antiAffinityFits(node):
		return reasonPodAntiAffinity
	case !s.existingFits(node):
		return reasonExistingAntiAffinity
	}
	return ""
}

// affinityFits: every term's domain exists on the node and holds a match,
// or no pod matches anywhere and the pod matches its own terms.
func (s *interPodState) affinityFits(node *corev1.Node) bool {
	if s.terms == nil {
		return true
	}
	found := true
	for i := range s.terms.affinity {
		n, ok := s.affinity.at(s.terms.affinity[i].topologyKey, node)
		if !ok {
			return false
		}
		found = found && n > 0
	}
	return found || len(s.affinity) == 0 && s.selfMatch
}

func (s *interPodState) antiAffinityFits(node *corev1.Node) bool {
	if s.terms == nil {
		return true
	}
	for i := range s.terms.antiAffinity {
		if n, _ := s.antiAffinity.at(s.terms.antiAffinity[i].topologyKey, node); n > 0 {
			return false
		}
	}
	return true
}

func (s *interPodState) existingFits(node *corev1.Node) bool {
	for key := range s.existing {
		if n, _ := s.existing.at(key, node); n > 0 {
			return false
		}
	}
	return true
}

// scoreRaw is the preferred-terms score input for one node (higher is
// better, may be negative).
func (s *interPodState) scoreRaw(node *corev1.Node) int64 {
	if s == nil || s.score == nil {
		return 0
	}
	var sum int64
	for key := range s.score {
		n, _ := s.score.at(key, node)
		sum += n
	}
	return sum
}
