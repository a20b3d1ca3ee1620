package replicaset

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BurstReplicas caps the pods created or deleted in one reconcile, as the
// Kubernetes ReplicaSet controller does.
const BurstReplicas = 500

// Env is what Reconcile needs from the world, injected so it stays pure.
type Env struct {
	Now time.Time
	// NewName returns a fresh pod name for a generateName prefix such as
	// "web-7d9f8-". RandomNames gives the Kubernetes form.
	NewName func(prefix string) string
}

// Result is what the ReplicaSet needs: the intents for the loop to send.
type Result struct {
	Create  []*corev1.Pod // new pods, fully formed from the template
	Delete  []*corev1.Pod // surplus pods, most expendable first
	Adopt   []*corev1.Pod // orphans matching the selector: set controller ref
	Release []*corev1.Pod // owned pods no longer matching: drop the ref
	Status  appsv1.ReplicaSetStatus
	// RequeueAfter is set when a ready pod becomes available later
	// (minReadySeconds), so the status can be refreshed then.
	RequeueAfter time.Duration
}

// Reconcile compares the ReplicaSet with the pods in its namespace and
// returns what to create, delete, adopt and release, and the new status.
// pods may include pods of other owners; they are ignored.
func Reconcile(rs *appsv1.ReplicaSet, pods []*corev1.Pod, env Env) (Result, error) {
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return Result{}, fmt.Errorf("replicaset %s/%s: spec.selector: %w", rs.Namespace, rs.Name, err)
	}
	claim := claimPods(rs, selector, pods)
	active := activePods(claim.owned)
	res := Result{Adopt: claim.adopt, Release: claim.release}
	if rs.DeletionTimestamp == nil {
		res.Create, res.Delete = scale(rs, active, env)
	}
	// The status counts the pods that stay: a pod this reconcile deletes is
	// no longer available, and reporting it for the moment until its
	// deletion is folded let a rollout trust a replica about to vanish.
	res.Status, res.RequeueAfter = calculateStatus(rs, without(claim.owned, res.Delete), env.Now)
	return res, nil
}

// without returns pods minus those in gone (by UID).
func without(pods, gone []*corev1.Pod) []*corev1.Pod {
	if len(gone) == 0 {
		return pods
	}
	drop := make(map[string]bool, len(gone))
	for _, p := range gone {
		drop[string(p.UID)] = true
	}
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if !drop[string(p.UID)] {
			out = append(out, p)
		}
	}
	return out
}

// scale returns the pods to create or delete to reach spec.replicas.
func scale(rs *appsv1.ReplicaSet, active []*corev1.Pod, env Env) (create, del []*corev1.Pod) {
	diff := len(active) - int(replicas(rs))
	switch {
	case diff < 0:
		for range min(-diff, BurstReplicas) {
			create = append(create, podFromTemplate(rs, env.NewName))
		}
	case diff > 0:
		del = podsToDelete(active, min(diff, BurstReplicas))
	}
	return create, del
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// activePods drops pods that are finished or being deleted.
func activePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}
