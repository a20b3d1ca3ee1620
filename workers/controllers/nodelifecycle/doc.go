// Package nodelifecycle watches node health and clears pods off nodes
// that went away.
//
// The core is Reconcile(node, lastHeartbeat, podsOnNode, env) → Result,
// pure with the clock and timings injected: a node whose lease was not
// renewed within Config.GracePeriod gets Ready=Unknown
// (NodeStatusUnknown); a node that is not Ready gets the
// node.kubernetes.io/unreachable (Unknown) or node.kubernetes.io/not-ready
// (False) taint as NoSchedule and NoExecute, removed when it is Ready
// again; pods that do not tolerate a NoExecute taint are evicted at once,
// the others after their tolerationSeconds (Config.DefaultTolerationSeconds
// for pods without their own not-ready/unreachable toleration), counted
// from the taint's timeAdded.
//
// Subscribes: node events (registered, status reported, taints changed,
// removed) and pod events for bound pods, one durable consumer
// "controller-nodelifecycle"; node lease renewals are read from the
// node-lease KV bucket (a watch on its keys), not the event stream.
//
// Sends: update node status (Ready condition), set node taints, delete pod
// (eviction, reason NodeLost / TaintManagerEviction). Requeues the node
// after Result.RequeueAfter (next eviction or grace expiry).
//
// Not yet: rate-limited zone-wide eviction (kube's
// --node-eviction-rate/--unhealthy-zone-threshold), pod CIDR allocation.
//
// Metrics: controller_nodelifecycle_nodes{ready=true|false|unknown},
// controller_nodelifecycle_evictions_total,
// controller_nodelifecycle_reconcile_duration_seconds.
//
// Ready when: the node projection and the lease bucket watch have caught
// up, and this replica holds the leader lease.
package nodelifecycle
