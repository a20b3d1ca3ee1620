package deployment

import (
	"cmp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
)

// cleanup deletes the oldest revisions of fully scaled-down old RSs beyond
// spec.revisionHistoryLimit (default 10).
func (s *state) cleanup() {
	limit := int32(defaultRevisionHistoryLimit)
	if s.d.Spec.RevisionHistoryLimit != nil {
		limit = *s.d.Spec.RevisionHistoryLimit
	}
	var idle []*appsv1.ReplicaSet
	for _, rs := range s.oldRSs {
		if specReplicas(rs) == 0 && rs.Status.Replicas == 0 && rs.DeletionTimestamp == nil && !slices.Contains(s.changed, rs) {
			idle = append(idle, rs)
		}
	}
	extra := len(idle) - int(limit)
	if extra <= 0 {
		return
	}
	slices.SortFunc(idle, func(a, b *appsv1.ReplicaSet) int {
		if c := cmp.Compare(Revision(a.Annotations), Revision(b.Annotations)); c != 0 {
			return c
		}
		return byCreation(a, b)
	})
	s.deleted = append(s.deleted, idle[:extra]...)
}
