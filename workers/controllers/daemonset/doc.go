// Package daemonset runs one pod of each DaemonSet on every eligible node.
//
// The core is Reconcile(ds, nodes, pods, env) → Result, pure with the clock
// and pod names injected. A node is eligible when the template's
// nodeSelector and required node affinity match it and every NoSchedule
// and NoExecute taint is tolerated (template tolerations plus the daemon
// tolerations Kubernetes adds: not-ready and unreachable NoExecute,
// disk/memory/pid pressure and unschedulable NoSchedule,
// network-unavailable for hostNetwork). A pod already on a node stays while
// the selector matches and its NoExecute taints are tolerated. New pods are
// pinned with required node affinity on metadata.name, so the scheduler
// still does the binding (resources, ports). RollingUpdate replaces pods of
// an older generation (pod-template-generation label) within maxUnavailable;
// OnDelete leaves them.
//
// Not yet: maxSurge for DaemonSets, ControllerRevision history, the
// failed-pod back-off.
//
// Subscribes: DaemonSet events, node events (registered, labels or taints
// changed, removed) and events of pods controlled by a DaemonSet, one
// durable consumer "controller-daemonset"; a node event wakes every
// DaemonSet.
//
// Sends: create pod, delete pod, update DaemonSet status
// (desired/current/misscheduled/ready/available/unavailable/updated
// counts).
//
// Metrics: controller_daemonset_reconciles_total{result},
// controller_daemonset_pods_created_total, _pods_deleted_total.
//
// Ready when: the DaemonSet, node and pod projections have caught up with
// the stream tail and this replica holds the leader lease.
package daemonset
