package scheduler

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// matchesNodeSelectorAndAffinity checks spec.nodeSelector and the required
// node affinity (terms are ORed, expressions within a term ANDed).
func matchesNodeSelectorAndAffinity(pod *corev1.Pod, node *corev1.Node) bool {
	for k, v := range pod.Spec.NodeSelector {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	req := requiredNodeAffinity(pod)
	if req == nil {
		return true
	}
	for i := range req.NodeSelectorTerms {
		if matchesTerm(&req.NodeSelectorTerms[i], node) {
			return true
		}
	}
	return false
}

func requiredNodeAffinity(pod *corev1.Pod) *corev1.NodeSelector {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return nil
	}
	return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
}

// matchesTerm: an empty term matches nothing, as in Kubernetes.
func matchesTerm(term *corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for i := range term.MatchExpressions {
		e := &term.MatchExpressions[i]
		v, ok := node.Labels[e.Key]
		if !matchesRequirement(e, v, ok) {
			return false
		}
	}
	for i := range term.MatchFields {
		f := &term.MatchFields[i]
		if f.Key != "metadata.name" || !matchesRequirement(f, node.Name, true) {
			return false
		}
	}
	return true
}

func matchesRequirement(e *corev1.NodeSelectorRequirement, value string, present bool) bool {
	switch e.Operator {
	case corev1.NodeSelectorOpIn:
		return present && slices.Contains(e.Values, value)
	case corev1.NodeSelectorOpNotIn:
		return !present || !slices.Contains(e.Values, value)
	case corev1.NodeSelectorOpExists:
		return present
	case corev1.NodeSelectorOpDoesNotExist:
		return !present
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		return present && compareInt(e, value)
	default:
		return false
	}
}

// compareInt implements Gt/Lt: exactly one integer value, compared with the
// node's label parsed as an integer.
func compareInt(e *corev1.NodeSelectorRequirement, value string) bool {
	if len(e.Values) != 1 {
		return false
	}
	want, err1 := strconv.ParseInt(e.Values[0], 10, 64)
	got, err2 := strconv.ParseInt(value, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	if e.Operator == corev1.NodeSelectorOpGt {
		return got > want
	}
	return got < want
}

// preferredAffinityWeight sums the weights of the preferred node affinity
// terms the node matches.
func preferredAffinityWeight(pod *corev1.Pod, node *corev1.Node) int64 {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return 0
	}
	var sum int64
	for i := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		p := &a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i]
		if matchesTerm(&p.Preference, node) {
			sum += int64(p.Weight)
		}
	}
	return sum
}
