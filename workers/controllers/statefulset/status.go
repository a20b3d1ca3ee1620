package statefulset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// status counts what the pods are now (before this round's changes). The
// current revision becomes the update revision once every replica runs
// it and is ready.
func status(set *appsv1.StatefulSet, r *run, now time.Time) (appsv1.StatefulSetStatus, time.Duration) {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    r.curRev,
		UpdateRevision:     r.updateRev,
		CollisionCount:     set.Status.CollisionCount,
	}
	minReady := time.Duration(set.Spec.MinReadySeconds) * time.Second
	var requeue time.Duration
	for _, p := range append(append([]*corev1.Pod{}, r.slots...), r.condemned...) {
		if p == nil || p.DeletionTimestamp != nil {
			continue
		}
		st.Replicas++
		if healthy(p) {
			st.ReadyReplicas++
			since := now.Sub(readyCondition(p).LastTransitionTime.Time)
			if minReady == 0 || since >= minReady {
				st.AvailableReplicas++
			} else if wait := minReady - since; requeue == 0 || wait < requeue {
				requeue = wait
			}
		}
		if p.Labels[LabelRevisionHash] == r.curRev {
			st.CurrentReplicas++
		}
		if p.Labels[LabelRevisionHash] == r.updateRev {
			st.UpdatedReplicas++
		}
	}
	want := replicasOf(set)
	if st.UpdatedReplicas == want && st.ReadyReplicas == want && st.Replicas == want {
		st.CurrentRevision = r.updateRev
		st.CurrentReplicas = st.UpdatedReplicas
	}
	return st, requeue
}
