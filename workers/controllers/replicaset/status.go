package replicaset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// calculateStatus counts the owned pods. replicas counts active pods;
// terminating pods are reported apart. It also returns how long until the
// next ready pod becomes available (0 if none is waiting).
func calculateStatus(rs *appsv1.ReplicaSet, owned []*corev1.Pod, now time.Time) (appsv1.ReplicaSetStatus, time.Duration) {
	st := appsv1.ReplicaSetStatus{ObservedGeneration: rs.Generation, Conditions: rs.Status.Conditions}
	templateLabels := labels.SelectorFromSet(rs.Spec.Template.Labels)
	minReady := time.Duration(rs.Spec.MinReadySeconds) * time.Second
	var terminating int32
	var requeue time.Duration
	for _, p := range owned {
		if p.DeletionTimestamp != nil {
			terminating++
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		st.Replicas++
		if templateLabels.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if !podReady(p) {
			continue
		}
		st.ReadyReplicas++
		if wait := availableIn(p, minReady, now); wait <= 0 {
			st.AvailableReplicas++
		} else if requeue == 0 || wait < requeue {
			requeue = wait
		}
	}
	st.TerminatingReplicas = &terminating
	return st, requeue
}

func podReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func readySince(p *corev1.Pod) time.Time {
	if c := readyCondition(p); c != nil {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

// availableIn is how long until a ready pod counts as available: ready for
// at least minReady. Zero or negative means available now.
func availableIn(p *corev1.Pod, minReady time.Duration, now time.Time) time.Duration {
	if minReady == 0 {
		return 0
	}
	since := readySince(p)
	if since.IsZero() {
		return minReady
	}
	return since.Add(minReady).Sub(now)
}
