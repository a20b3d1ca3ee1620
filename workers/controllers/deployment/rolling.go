package deployment

import (
	"slices"

	appsv1 "k8s.io/api/apps/v1"
)

// reconcileNewReplicaSet grows the new RS within maxSurge, or shrinks it
// if it is above spec.replicas.
func (s *state) reconcileNewReplicaSet() bool {
	want := replicas(s.d)
	have := specReplicas(s.newRS)
	switch {
	case have == want:
		return false
	case have > want:
		return s.scaleRS(s.newRS, want)
	}
	return s.scaleRS(s.newRS, s.newReplicas(s.newRS))
}

// reconcileOldReplicaSets shrinks old RSs as far as maxUnavailable allows:
// first their unhealthy pods, then available ones, oldest RS first.
func (s *state) reconcileOldReplicaSets() bool {
	old := activeRSs(s.oldRSs)
	if sumSpec(old) == 0 {
		return false
	}
	minAvailable := replicas(s.d) - maxUnavailable(s.d)
	newUnavailable := specReplicas(s.newRS) - availableWithin(s.newRS)
	maxScaledDown := sumSpec(s.withNew(s.oldRSs)) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false
	}
	cleaned := s.cleanupUnhealthyReplicas(old, maxScaledDown)
	scaled := s.scaleDownOldForRolling(old, minAvailable)
	return cleaned+scaled > 0
}

// cleanupUnhealthyReplicas removes old pods that are not available, which
// costs no availability, up to limit.
func (s *state) cleanupUnhealthyReplicas(old []*appsv1.ReplicaSet, limit int32) int32 {
	slices.SortFunc(old, byCreation)
	var total int32
	for _, rs := range old {
		if total >= limit {
			break
		}
		unhealthy := specReplicas(rs) - rs.Status.AvailableReplicas
		if specReplicas(rs) == 0 || unhealthy <= 0 {
			continue
		}
		n := min(limit-total, unhealthy)
		s.scaleRS(rs, specReplicas(rs)-n)
		total += n
	}
	return total
}

// scaleDownOldForRolling removes available old pods while the available
// total stays at or above minAvailable.
func (s *state) scaleDownOldForRolling(old []*appsv1.ReplicaSet, minAvailable int32) int32 {
	var availableNow int32
	for _, rs := range s.withNew(s.oldRSs) {
		availableNow += availableWithin(rs)
	}
	if availableNow <= minAvailable {
		return 0
	}
	budget := availableNow - minAvailable
	slices.SortFunc(old, byCreation)
	var total int32
	for _, rs := range old {
		if total >= budget {
			break
		}
		if specReplicas(rs) == 0 {
			continue
		}
		n := min(specReplicas(rs), budget-total)
		s.scaleRS(rs, specReplicas(rs)-n)
		total += n
	}
	return total
}

// scaleDownOldForRecreate scales every active old RS to zero.
func (s *state) scaleDownOldForRecreate() bool {
	scaled := false
	for _, rs := range activeRSs(s.oldRSs) {
		if s.scaleRS(rs, 0) {
			scaled = true
		}
	}
	return scaled
}

// oldPodsRunning reports whether old RSs still have pods, as their status
// says. Recreate waits for them before starting new pods.
func (s *state) oldPodsRunning() bool {
	return sumStatus(s.oldRSs, actual) > 0
}

// availableWithin is an RS's available pods as far as its spec keeps them:
// pods past spec.replicas are being deleted, whatever the status says. An
// RS scaled down reports the pod it deleted until its controller writes the
// status after the deletion; a rollout undone then makes it the new RS, and
// counting that pod let the old RS shrink before anything replaced it.
func availableWithin(rs *appsv1.ReplicaSet) int32 {
	return min(rs.Status.AvailableReplicas, specReplicas(rs))
}
