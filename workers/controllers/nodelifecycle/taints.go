package nodelifecycle

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// conditionTaintKeys are the taints this controller owns.
func conditionTaintKeys() []string {
	return []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable}
}

// wantTaints keeps the node's other taints and sets the condition taints
// for the Ready status: False → not-ready, Unknown → unreachable, each as
// NoSchedule and NoExecute; True → none. An existing taint keeps its
// timeAdded so eviction deadlines do not slide.
func wantTaints(current []corev1.Taint, ready corev1.ConditionStatus, now time.Time) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range current {
		if !slices.Contains(conditionTaintKeys(), t.Key) {
			out = append(out, t)
		}
	}
	key := ""
	switch ready {
	case corev1.ConditionFalse:
		key = corev1.TaintNodeNotReady
	case corev1.ConditionUnknown:
		key = corev1.TaintNodeUnreachable
	}
	if key == "" {
		return out
	}
	for _, effect := range []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute} {
		out = append(out, keepOrAdd(current, key, effect, now))
	}
	return out
}

func keepOrAdd(current []corev1.Taint, key string, effect corev1.TaintEffect, now time.Time) corev1.Taint {
	for _, t := range current {
		if t.Key == key && t.Effect == effect {
			return t
		}
	}
	t := corev1.Taint{Key: key, Effect: effect}
	if effect == corev1.TaintEffectNoExecute {
		added := metav1.NewTime(now)
		t.TimeAdded = &added
	}
	return t
}

func sameTaints(a, b []corev1.Taint) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.Taint) bool {
		return x.Key == y.Key && x.Value == y.Value && x.Effect == y.Effect
	})
}
