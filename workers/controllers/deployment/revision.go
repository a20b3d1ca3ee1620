package deployment

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
)

// Annotations the controller keeps, with the Kubernetes names so
// `rollout history` tooling reads them.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
)

// Revision reads an object's revision annotation (0 when missing).
func Revision(annotations map[string]string) int64 {
	v, err := strconv.ParseInt(annotations[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var most int64
	for _, rs := range rss {
		most = max(most, Revision(rs.Annotations))
	}
	return most
}

func setAnnotation(rs *appsv1.ReplicaSet, key, value string) bool {
	if rs.Annotations[key] == value {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[key] = value
	return true
}

// setReplicasAnnotations records the deployment size an RS was scaled for,
// which proportional scaling later reads back.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxTotal int32) bool {
	a := setAnnotation(rs, DesiredReplicasAnnotation, strconv.Itoa(int(desired)))
	b := setAnnotation(rs, MaxReplicasAnnotation, strconv.Itoa(int(maxTotal)))
	return a || b
}

func annotatedInt(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, err := strconv.ParseInt(rs.Annotations[key], 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(v), true
}

// Rollback returns a copy of the Deployment with the pod template of the
// ReplicaSet at toRevision (0: the revision before the current one), the
// intent behind `rollout undo`. The pod-template-hash label is dropped.
func Rollback(d *appsv1.Deployment, rss []*appsv1.ReplicaSet, toRevision int64) (*appsv1.Deployment, error) {
	owned := ownedReplicaSets(d, rss)
	if toRevision == 0 {
		toRevision = previousRevision(owned)
		if toRevision == 0 {
			return nil, fmt.Errorf("deployment %s/%s: rollback: no previous revision", d.Namespace, d.Name)
		}
	}
	for _, rs := range owned {
		if Revision(rs.Annotations) != toRevision {
			continue
		}
		out := d.DeepCopy()
		out.Spec.Template = *rs.Spec.Template.DeepCopy()
		delete(out.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		return out, nil
	}
	return nil, fmt.Errorf("deployment %s/%s: rollback: revision %d not found", d.Namespace, d.Name, toRevision)
}

// previousRevision is the second highest revision among the RSs.
func previousRevision(rss []*appsv1.ReplicaSet) int64 {
	var top, second int64
	for _, rs := range rss {
		switch r := Revision(rs.Annotations); {
		case r > top:
			top, second = r, top
		case r > second && r < top:
			second = r
		}
	}
	return second
}
