package deployment

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Env is what Reconcile needs from the world, injected so it stays pure.
type Env struct {
	Now time.Time
}

// Result holds the intents for the loop to send.
type Result struct {
	Create  *appsv1.ReplicaSet   // the new ReplicaSet, replicas already set
	Update  []*appsv1.ReplicaSet // changed copies: spec.replicas, annotations
	Delete  []*appsv1.ReplicaSet // old ReplicaSets beyond revisionHistoryLimit
	Adopt   []*appsv1.ReplicaSet // orphans matching the selector
	Release []*appsv1.ReplicaSet // owned RSs no longer matching
	// Revision is the deployment.kubernetes.io/revision the Deployment
	// should carry ("" when there is no new ReplicaSet yet).
	Revision string
	Status   appsv1.DeploymentStatus
	// RequeueAfter asks for another look when the progress deadline would
	// pass with nothing else happening.
	RequeueAfter time.Duration
}

// Reconcile moves a Deployment one step toward its spec, given every
// ReplicaSet in its namespace. It mirrors the Kubernetes deployment
// controller: claim ReplicaSets, then (unless deleted) a pause, scaling
// event, Recreate or RollingUpdate step, history cleanup, and status.
func Reconcile(d *appsv1.Deployment, rss []*appsv1.ReplicaSet, env Env) (Result, error) {
	if err := Validate(d); err != nil {
		return Result{}, err
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return Result{}, fmt.Errorf("deployment %s/%s: spec.selector: %w", d.Namespace, d.Name, err)
	}
	if selector.Empty() {
		return Result{}, fmt.Errorf("deployment %s/%s: spec.selector: empty selector selects every pod: %w", d.Namespace, d.Name, ErrInvalid)
	}
	c := claimReplicaSets(d, selector, rss)
	s := newState(d, c.owned, rss, env)
	switch {
	case d.DeletionTimestamp != nil:
		s.splitNewOld(false)
	case d.Spec.Paused || s.isScalingEvent():
		s.sync()
	case isRolling(d):
		s.rolloutRolling()
	default:
		s.rolloutRecreate()
	}
	res := s.result()
	res.Adopt, res.Release = c.adopt, c.release
	return res, nil
}

// sync scales without rolling out: a paused Deployment or a change of
// spec.replicas mid-rollout. It never creates a new ReplicaSet.
func (s *state) sync() {
	s.splitNewOld(false)
	s.scale()
	if s.d.Spec.Paused {
		s.cleanup()
	}
	s.syncStatus()
}

func (s *state) rolloutRolling() {
	s.splitNewOld(true)
	if s.reconcileNewReplicaSet() || s.reconcileOldReplicaSets() {
		s.syncStatus()
		return
	}
	if s.complete() {
		s.cleanup()
	}
	s.syncStatus()
}

// rolloutRecreate scales every old ReplicaSet to zero, waits for their
// pods to be gone, then brings up the new one at full size.
func (s *state) rolloutRecreate() {
	s.splitNewOld(false)
	if s.scaleDownOldForRecreate() || s.oldPodsRunning() {
		s.syncStatus()
		return
	}
	if s.newRS == nil {
		s.splitNewOld(true)
	}
	if s.newRS.Spec.Replicas == nil || *s.newRS.Spec.Replicas == 0 {
		s.scaleRS(s.newRS, replicas(s.d))
	}
	if s.complete() {
		s.cleanup()
	}
	s.syncStatus()
}
