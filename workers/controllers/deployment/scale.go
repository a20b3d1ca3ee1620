package deployment

import (
	"math"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
)

// isScalingEvent: an active RS was sized for a different spec.replicas
// than the Deployment has now.
func (s *state) isScalingEvent() bool {
	s.splitNewOld(false)
	for _, rs := range activeRSs(s.withNew(s.oldRSs)) {
		if n, ok := annotatedInt(rs, DesiredReplicasAnnotation); ok && n != replicas(s.d) {
			return true
		}
	}
	return false
}

// scale resizes RSs after a change of spec.replicas. One active RS takes
// the new size; a saturated new RS lets the old ones go; otherwise the
// change is shared in proportion to each RS's size (rolling only).
func (s *state) scale() {
	all := s.withNew(s.oldRSs)
	if only := activeOrLatest(s.newRS, s.oldRSs); only != nil {
		s.scaleRS(only, replicas(s.d))
		return
	}
	if s.saturated() {
		for _, rs := range activeRSs(s.oldRSs) {
			s.scaleRS(rs, 0)
		}
		return
	}
	if isRolling(s.d) {
		s.scaleProportionally(activeRSs(all))
	}
}

// activeOrLatest returns the single active RS, or the newest RS when none
// is active; nil when several are active.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	all := old
	if newRS != nil {
		all = append(slices.Clone(old), newRS)
	}
	active := activeRSs(all)
	switch {
	case len(active) == 1:
		return active[0]
	case len(active) > 1 || len(all) == 0:
		return nil
	case newRS != nil:
		return newRS
	}
	return slices.MaxFunc(old, byCreation)
}

func (s *state) saturated() bool {
	if s.newRS == nil {
		return false
	}
	n, ok := annotatedInt(s.newRS, DesiredReplicasAnnotation)
	want := replicas(s.d)
	return ok && n == want && specReplicas(s.newRS) == want && s.newRS.Status.AvailableReplicas == want
}

// scaleProportionally adds or removes (replicas+maxSurge) - current pods
// across the active RSs by their share, the remainder going to the largest.
func (s *state) scaleProportionally(active []*appsv1.ReplicaSet) {
	toAdd := replicas(s.d) + maxSurge(s.d) - sumSpec(active)
	if replicas(s.d) == 0 {
		toAdd = -sumSpec(active)
	}
	if toAdd == 0 || len(active) == 0 {
		return
	}
	if toAdd > 0 {
		slices.SortFunc(active, bySizeThen(true))
	} else {
		slices.SortFunc(active, bySizeThen(false))
	}
	sizes := make([]int32, len(active))
	var added int32
	for i, rs := range active {
		p := s.proportion(rs, toAdd, added)
		sizes[i] = specReplicas(rs) + p
		added += p
	}
	sizes[0] = max(sizes[0]+toAdd-added, 0)
	for i, rs := range active {
		s.scaleRS(rs, sizes[i])
	}
}

func (s *state) proportion(rs *appsv1.ReplicaSet, toAdd, added int32) int32 {
	if specReplicas(rs) == 0 || toAdd == added {
		return 0
	}
	f := s.fraction(rs)
	if toAdd > 0 {
		return min(f, toAdd-added)
	}
	return max(f, toAdd-added)
}

// fraction is how the RS would change if it kept its share of the
// deployment size it was last scaled for (max-replicas annotation).
func (s *state) fraction(rs *appsv1.ReplicaSet) int32 {
	if replicas(s.d) == 0 {
		return -specReplicas(rs)
	}
	total := replicas(s.d) + maxSurge(s.d)
	was, ok := annotatedInt(rs, MaxReplicasAnnotation)
	if !ok || was == 0 {
		was = s.d.Status.Replicas
	}
	if was == 0 {
		return 0
	}
	size := float64(specReplicas(rs)) * float64(total) / float64(was)
	return int32(math.Round(size)) - specReplicas(rs)
}

// bySizeThen orders larger RSs first; ties newer first when growing,
// older first when shrinking.
func bySizeThen(newerFirst bool) func(a, b *appsv1.ReplicaSet) int {
	return func(a, b *appsv1.ReplicaSet) int {
		if sa, sb := specReplicas(a), specReplicas(b); sa != sb {
			return int(sb - sa)
		}
		if newerFirst {
			return byCreation(b, a)
		}
		return byCreation(a, b)
	}
}
