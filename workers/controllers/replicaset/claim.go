package replicaset

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// claim sorts the namespace's pods the way the Kubernetes controller-ref
// manager does.
type claim struct {
	owned   []*corev1.Pod // controlled by rs and matching (incl. adopted)
	adopt   []*corev1.Pod // orphans to take over
	release []*corev1.Pod // controlled by rs but no longer matching
}

func claimPods(rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) claim {
	var c claim
	for _, p := range pods {
		if p.Namespace != rs.Namespace {
			continue
		}
		matches := selector.Matches(labels.Set(p.Labels))
		ref := metav1.GetControllerOfNoCopy(p)
		switch {
		case ref != nil && ownedBy(ref, rs) && matches:
			c.owned = append(c.owned, p)
		case ref != nil && ownedBy(ref, rs):
			if rs.DeletionTimestamp == nil {
				c.release = append(c.release, p)
			}
		case ref == nil && matches && p.DeletionTimestamp == nil && rs.DeletionTimestamp == nil:
			c.adopt = append(c.adopt, p)
			c.owned = append(c.owned, p)
		}
	}
	return c
}

// ownedBy matches by UID when both sides have one, else by kind and name.
func ownedBy(ref *metav1.OwnerReference, rs *appsv1.ReplicaSet) bool {
	if ref.UID != "" && rs.UID != "" {
		return ref.UID == rs.UID
	}
	return ref.Kind == "ReplicaSet" && ref.Name == rs.Name
}

// ControllerRef is the owner reference pods created or adopted by rs carry.
func ControllerRef(rs *appsv1.ReplicaSet) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion:         "apps/v1",
		Kind:               "ReplicaSet",
		Name:               rs.Name,
		UID:                rs.UID,
		Controller:         &yes,
		BlockOwnerDeletion: &yes,
	}
}
