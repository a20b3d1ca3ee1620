// Package deployment rolls Deployments out through ReplicaSets.
//
// The core is Reconcile(deployment, replicaSets, env) → Result, pure with
// the clock injected, mirroring the Kubernetes deployment controller:
//
//	claim RSs ─► paused or scaling event? ─► sync (proportional scaling)
//	          └► RollingUpdate: grow new RS within maxSurge, shrink old RSs
//	             within maxUnavailable (unhealthy pods first, oldest RS first)
//	          └► Recreate: old RSs to 0, wait for their pods, new RS to full
//	─► clean up history beyond revisionHistoryLimit ─► status and conditions
//
// The new ReplicaSet is named <deployment>-<pod-template-hash>, the hash
// computed as Kubernetes does (ComputeHash), and its template and selector
// carry the pod-template-hash label. Revisions live in the
// deployment.kubernetes.io/revision annotation; Rollback copies an older
// ReplicaSet's template back (rollout undo). Conditions: Available
// (MinimumReplicasAvailable), Progressing (NewReplicaSetCreated,
// ReplicaSetUpdated, NewReplicaSetAvailable, DeploymentPaused, and False
// with ProgressDeadlineExceeded once progressDeadlineSeconds pass without
// progress).
//
// Subscribes: Deployment events (created, spec changed, scaled, paused,
// resumed, deleted) and ReplicaSet events (created, scaled, status changed,
// deleted), one durable consumer "controller-deployment"; a ReplicaSet event
// wakes its controlling Deployment. Pod events are not needed: ReplicaSet
// status carries the counts.
//
// Sends: create ReplicaSet (Result.Create), scale ReplicaSet and update its
// annotations (Result.Update), delete ReplicaSet (Result.Delete), adopt and
// release ReplicaSet (controller reference), annotate Deployment with its
// revision (Result.Revision), update Deployment status (Result.Status);
// `rollout undo` sends update Deployment template with Rollback's output.
// Requeues after Result.RequeueAfter for the progress deadline.
//
// Metrics: controller_deployment_reconciles_total{result},
// controller_deployment_replicasets_created_total,
// controller_deployment_rollouts_timed_out_total,
// controller_deployment_reconcile_duration_seconds, _queue_depth.
//
// Ready when: the Deployment and ReplicaSet projections have caught up with
// the stream tail and this replica holds the leader lease.
package deployment
