// Package namespace empties deleted namespaces.
//
// The core is Reconcile(namespace, objects) → Result, pure. A namespace
// that is gone (the delete verb removes a Namespace at once today) or
// Terminating (deletionTimestamp set, once the aggregate supports it) has
// its objects deleted in rounds: each round deletes the objects none of
// whose owners is still present, HorizontalPodAutoscalers and workload
// owners (CronJob, Deployment, StatefulSet, DaemonSet, Job, ReplicaSet)
// before pods, services and data, so owners go first and their dependents
// follow once orphaned (the garbage collector may delete them first; a
// NotFound is fine). Owner cycles are broken by deleting what is left. A
// Terminating namespace that is empty is finalized. Creates in a deleted
// or terminating namespace are refused by the command service, so nothing
// re-creates what was deleted.
//
// Subscribes: Namespace events and the events of every namespaced kind
// (metadata only: uid, ownerReferences, deletionTimestamp), consumer
// "controller-namespace". Reconciles only namespaces that are gone or
// terminating; a periodic resync retries them.
//
// Sends: delete <kind> for each object; finalize namespace when a
// Terminating namespace is empty (needs the namespace aggregate to take
// that verb).
//
// Metrics: controller_namespace_deletions_total{kind}.
//
// Ready when: the view has caught up with the stream tail (the loop waits
// for the seed before its first decision) and this replica holds the
// leader lease.
package namespace
