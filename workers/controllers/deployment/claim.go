package deployment

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// claimed is the outcome of matching a namespace's ReplicaSets against a
// Deployment: deep copies of the ones it controls (adopted orphans
// included), and the ones to adopt or release.
type claimed struct {
	owned   []*appsv1.ReplicaSet
	adopt   []*appsv1.ReplicaSet
	release []*appsv1.ReplicaSet
}

func claimReplicaSets(d *appsv1.Deployment, selector labels.Selector, rss []*appsv1.ReplicaSet) claimed {
	var c claimed
	for _, rs := range rss {
		if rs.Namespace != d.Namespace {
			continue
		}
		matches := selector.Matches(labels.Set(rs.Labels))
		ref := metav1.GetControllerOfNoCopy(rs)
		switch {
		case ref != nil && ownedBy(ref, d) && matches:
			c.owned = append(c.owned, rs.DeepCopy())
		case ref != nil && ownedBy(ref, d):
			if d.DeletionTimestamp == nil {
				c.release = append(c.release, rs)
			}
		case ref == nil && matches && rs.DeletionTimestamp == nil && d.DeletionTimestamp == nil:
			c.adopt = append(c.adopt, rs)
			c.owned = append(c.owned, rs.DeepCopy())
		}
	}
	return c
}

// ownedReplicaSets is the RSs controlled by d, not copied.
func ownedReplicaSets(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if ref := metav1.GetControllerOfNoCopy(rs); ref != nil && rs.Namespace == d.Namespace && ownedBy(ref, d) {
			out = append(out, rs)
		}
	}
	return out
}

func ownedBy(ref *metav1.OwnerReference, d *appsv1.Deployment) bool {
	if ref.UID != "" && d.UID != "" {
		return ref.UID == d.UID
	}
	return ref.Kind == "Deployment" && ref.Name == d.Name
}

// ControllerRef is the owner reference ReplicaSets of d carry.
func ControllerRef(d *appsv1.Deployment) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID,
		Controller: &yes, BlockOwnerDeletion: &yes,
	}
}
