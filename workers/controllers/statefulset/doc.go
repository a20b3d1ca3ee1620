// Package statefulset runs StatefulSets: pods with stable names, network
// identities and node-local volumes, created and removed in order.
//
// The core is Reconcile(set, pods, env) → Result, pure with the clock and
// the nodes' data dir injected. Pod i is "<set>-i", with hostname "<set>-i"
// and subdomain spec.serviceName, so a headless Service of that name gives
// it <set>-i.<service>.<ns>.svc.cluster.local. OrderedReady (the default)
// creates ordinals in ascending order, each once every lower one is
// Running and Ready, and deletes in descending order, one at a time;
// Parallel creates and deletes all at once. RollingUpdate replaces pods
// whose controller-revision-hash differs from the template's, from the
// highest ordinal down to the partition, one at a time and only while the
// pods above are healthy; OnDelete leaves them. Failed or succeeded pods
// are deleted and re-created under the same name.
//
// Volumes: each volumeClaimTemplate becomes a hostPath volume (type
// DirectoryOrCreate) at <dataDir>/volumes/<ns>/<set>/<claim>-<ordinal> on
// the pod's node, and survives the pod. The first time an ordinal's pod is
// bound, its node is recorded in the StatefulSet's annotation
// statefulset.gantry.sh/volume-nodes; every later pod of that ordinal gets
// a required node affinity (matchFields metadata.name In [node]), so it
// comes back to its data. A pod whose node is gone stays Pending, as with a
// local PersistentVolume in Kubernetes.
//
// Not yet: PersistentVolumeClaim objects and their retention policy (the
// directories are kept forever), ControllerRevision history (a re-created
// pod below the partition gets the new template, where Kubernetes would
// use the current revision's), maxUnavailable, adoption of orphan pods,
// spec.ordinals.start.
//
// Subscribes: StatefulSet events (created, scaled, template changed,
// deleted) and events of pods controlled by a StatefulSet (bound, phase and
// readiness changes, terminating, deleted), consumer "controller-statefulset".
//
// Sends: create pod, delete pod, patch statefulset (the volume-nodes
// annotation), status statefulset (replicas, readyReplicas,
// availableReplicas, currentReplicas, updatedReplicas, currentRevision,
// updateRevision, observedGeneration).
//
// Metrics: controller_statefulset_reconciles_total{result},
// controller_statefulset_pods_created_total, _pods_deleted_total,
// controller_statefulset_reconcile_duration_seconds.
//
// Ready when: the StatefulSet and pod projections have caught up with the
// stream tail and this replica holds the leader lease.
package statefulset
