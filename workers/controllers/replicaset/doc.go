// Package replicaset keeps the number of pods of each ReplicaSet at
// spec.replicas.
//
// The core is Reconcile(rs, pods, env) → Result: pure, with the clock and
// pod-name generation injected through Env. It follows the Kubernetes
// ReplicaSet controller: claim pods (adopt matching orphans, release owned
// pods whose labels no longer match), create from the template up to
// BurstReplicas at a time, delete the most expendable pods first (see
// podsToDelete), and compute status (replicas, fullyLabeledReplicas,
// readyReplicas, availableReplicas after minReadySeconds,
// terminatingReplicas, observedGeneration).
//
// Subscribes: ReplicaSet events (created, scaled, template changed,
// deleted) and pod events (created, deleted, labels changed, phase/readiness
// changed), one durable consumer "controller-replicaset"; a pod event wakes
// its controller's ReplicaSet (or, for an orphan, every ReplicaSet in the
// namespace whose selector matches). Periodic resync reconciles them all.
//
// Sends: create pod (Result.Create), delete pod (Result.Delete), adopt pod
// and release pod (set/remove the controller owner reference), update
// ReplicaSet status (Result.Status, only when it changed). It requeues the
// ReplicaSet after Result.RequeueAfter.
//
// Expectations: the projection may lag the commands just sent. The loop
// must remember the creates and deletes it has in flight for a ReplicaSet
// (as Kubernetes' ControllerExpectations) and not reconcile it again until
// they are observed or time out, or it will over-create.
//
// Metrics: controller_replicaset_reconciles_total{result},
// controller_replicaset_pods_created_total, _pods_deleted_total,
// controller_replicaset_reconcile_duration_seconds, _queue_depth.
//
// Ready when: the pod and ReplicaSet projections have caught up with the
// stream tail and this replica holds the leader lease.
package replicaset
