package scheduler

import corev1 "k8s.io/api/core/v1"

// tolerates reports whether one toleration matches a taint, with the
// semantics of corev1.Toleration.ToleratesTaint (empty effect matches every
// effect; an empty key with Exists matches every taint).
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	default:
		return false
	}
}

func toleratedBy(taint *corev1.Taint, tolerations []corev1.Toleration) bool {
	for i := range tolerations {
		if tolerates(&tolerations[i], taint) {
			return true
		}
	}
	return false
}

// firstUntoleratedTaint returns the first NoSchedule or NoExecute taint the
// pod does not tolerate, or nil.
func firstUntoleratedTaint(taints []corev1.Taint, tolerations []corev1.Toleration) *corev1.Taint {
	for i := range taints {
		t := &taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !toleratedBy(t, tolerations) {
			return t
		}
	}
	return nil
}

// countPreferNoSchedule counts PreferNoSchedule taints the pod does not
// tolerate; fewer is better when scoring.
func countPreferNoSchedule(taints []corev1.Taint, tolerations []corev1.Toleration) int {
	n := 0
	for i := range taints {
		t := &taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !toleratedBy(t, tolerations) {
			n++
		}
	}
	return n
}
