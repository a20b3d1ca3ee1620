package deployment

import (
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
)

// state is one reconcile's working copy. Changes are applied to the
// copies as they are decided, so later steps see them, and collected for
// the Result.
type state struct {
	d       *appsv1.Deployment
	env     Env
	all     []*appsv1.ReplicaSet // owned copies
	taken   map[string]bool      // every RS name in the namespace
	newRS   *appsv1.ReplicaSet
	oldRSs  []*appsv1.ReplicaSet
	created *appsv1.ReplicaSet
	changed []*appsv1.ReplicaSet
	deleted []*appsv1.ReplicaSet
	status  appsv1.DeploymentStatus
}

func newState(d *appsv1.Deployment, owned, every []*appsv1.ReplicaSet, env Env) *state {
	s := &state{d: d, env: env, all: owned, taken: map[string]bool{}}
	for _, rs := range every {
		if rs.Namespace == d.Namespace {
			s.taken[rs.Name] = true
		}
	}
	s.status = *d.Status.DeepCopy()
	return s
}

func (s *state) markChanged(rs *appsv1.ReplicaSet) {
	if rs == s.created || slices.Contains(s.changed, rs) {
		return
	}
	s.changed = append(s.changed, rs)
}

// scaleRS sets an RS's size and its replicas annotations for the
// Deployment's current size.
func (s *state) scaleRS(rs *appsv1.ReplicaSet, n int32) bool {
	changed := rs.Spec.Replicas == nil || *rs.Spec.Replicas != n
	rs.Spec.Replicas = &n
	if setReplicasAnnotations(rs, replicas(s.d), replicas(s.d)+maxSurge(s.d)) {
		changed = true
	}
	if changed {
		s.markChanged(rs)
	}
	return changed
}

func (s *state) result() Result {
	res := Result{Create: s.created, Update: s.changed, Delete: s.deleted, Status: s.status}
	if s.newRS != nil {
		res.Revision = strconv.FormatInt(Revision(s.newRS.Annotations), 10)
	}
	res.RequeueAfter = s.requeueAfter()
	return res
}

func specReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

func sumSpec(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += specReplicas(rs)
	}
	return n
}

func sumStatus(rss []*appsv1.ReplicaSet, field func(*appsv1.ReplicaSetStatus) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += field(&rs.Status)
		}
	}
	return n
}

func available(st *appsv1.ReplicaSetStatus) int32 { return st.AvailableReplicas }
func ready(st *appsv1.ReplicaSetStatus) int32     { return st.ReadyReplicas }
func actual(st *appsv1.ReplicaSetStatus) int32    { return st.Replicas }

// withNew is the old RSs plus the new one, if any.
func (s *state) withNew(old []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	out := slices.Clone(old)
	if s.newRS != nil {
		out = append(out, s.newRS)
	}
	return out
}

func activeRSs(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if specReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// byCreation orders oldest first, name breaking ties.
func byCreation(a, b *appsv1.ReplicaSet) int {
	if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
