// Package garbagecollector deletes objects whose owners are gone: the
// background cascade of Kubernetes' garbage collector, by
// metadata.ownerReferences.
//
// The core is Dangling(refs, exists) → (keep, gone): pure; an object whose
// every owner is gone is deleted, one that lost only some owners has the
// dangling references patched away.
//
// Subscribes: changes of every owning and owned kind (Deployment,
// ReplicaSet, DaemonSet, StatefulSet, Job, CronJob, Pod) from the
// current-state view; an owner's deletion wakes its dependents, a new
// object with an owner not (or no longer) present wakes itself. Owners are
// checked against the view by kind, namespace, name and UID, so a feed
// that is behind never makes the collector delete too early.
//
// Sends: delete (background cascade: a deleted ReplicaSet's pods are
// deleted in turn), patch metadata.ownerReferences.
//
// Not yet: foreground deletion with the foregroundDeletion finalizer
// (`gantry delete --cascade=foreground` waits for dependents from the
// client instead), blockOwnerDeletion.
//
// Metrics: controller_garbagecollector_deletions_total.
//
// Ready when: the view has caught up with the stream tail.
package garbagecollector
