package deployment

import (
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxHashCollisions bounds the collision-count retries within one pass.
const maxHashCollisions = 16

// splitNewOld finds the new ReplicaSet (the oldest whose template equals
// the Deployment's, ignoring pod-template-hash) and the old ones, syncing
// the new one's revision. With create it builds the new RS if missing.
func (s *state) splitNewOld(create bool) {
	slices.SortFunc(s.all, byCreation)
	s.newRS, s.oldRSs = nil, nil
	for _, rs := range s.all {
		if s.newRS == nil && equalIgnoreHash(&rs.Spec.Template, &s.d.Spec.Template) {
			s.newRS = rs
			continue
		}
		s.oldRSs = append(s.oldRSs, rs)
	}
	want := strconv.FormatInt(maxRevision(s.oldRSs)+1, 10)
	switch {
	case s.newRS != nil:
		if Revision(s.newRS.Annotations) < maxRevision(s.oldRSs)+1 && setAnnotation(s.newRS, RevisionAnnotation, want) {
			s.markChanged(s.newRS)
		}
		s.noteFoundNewRS()
	case create:
		s.newRS = s.buildNewRS(want)
		s.created = s.newRS
		s.all = append(s.all, s.newRS)
		s.setProgressing(corev1.ConditionTrue, reasonNewRSCreated, "Created new replica set %q", s.newRS.Name)
	}
}

// buildNewRS makes the new ReplicaSet: template and selector gain the
// pod-template-hash label; the name is <deployment>-<hash>, bumping
// status.collisionCount while the name is taken.
func (s *state) buildNewRS(revision string) *appsv1.ReplicaSet {
	hash := ComputeHash(&s.d.Spec.Template, s.status.CollisionCount)
	for i := 0; i < maxHashCollisions && s.taken[s.d.Name+"-"+hash]; i++ {
		n := int32(0)
		if s.status.CollisionCount != nil {
			n = *s.status.CollisionCount
		}
		n++
		s.status.CollisionCount = &n
		hash = ComputeHash(&s.d.Spec.Template, s.status.CollisionCount)
	}
	template := *s.d.Spec.Template.DeepCopy()
	template.Labels = withLabel(template.Labels, hash)
	selector := s.d.Spec.Selector.DeepCopy()
	selector.MatchLabels = withLabel(selector.MatchLabels, hash)
	n := s.newReplicas(nil)
	rs := &appsv1.ReplicaSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              s.d.Name + "-" + hash,
			Namespace:         s.d.Namespace,
			Labels:            template.Labels,
			Annotations:       map[string]string{RevisionAnnotation: revision},
			OwnerReferences:   []metav1.OwnerReference{ControllerRef(s.d)},
			CreationTimestamp: metav1.NewTime(s.env.Now),
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &n,
			MinReadySeconds: s.d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        template,
		},
	}
	setReplicasAnnotations(rs, replicas(s.d), replicas(s.d)+maxSurge(s.d))
	return rs
}

func withLabel(in map[string]string, hash string) map[string]string {
	out := make(map[string]string, len(in)+1)
	for k, v := range in {
		out[k] = v
	}
	out[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	return out
}

// newReplicas is the size the new RS may have now. Rolling: grow within
// replicas+maxSurge counted over every RS. Recreate: full size.
func (s *state) newReplicas(newRS *appsv1.ReplicaSet) int32 {
	want := replicas(s.d)
	if !isRolling(s.d) {
		return want
	}
	current := sumLive(s.withNewOf(newRS))
	maxTotal := want + maxSurge(s.d)
	have := specReplicas(newRS)
	if current >= maxTotal {
		return have
	}
	return have + min(maxTotal-current, max(want-have, 0))
}

func (s *state) withNewOf(newRS *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	out := slices.Clone(s.oldRSs)
	if newRS != nil {
		out = append(out, newRS)
	}
	return out
}

// sumLive counts the pods the RSs have or are about to have: the larger of
// spec.replicas and status.replicas for each. An old RS just scaled down
// still has its pods until its controller deletes them; counting its spec
// alone, as Kubernetes does, lets the new RS surge past maxSurge meanwhile.
func sumLive(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += max(specReplicas(rs), rs.Status.Replicas)
	}
	return n
}
