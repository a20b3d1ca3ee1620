// Package agent is the node agent: it registers its Node, renews its
// lease, runs the pods bound to its node on a Runtime (containerd + CNI in
// production, agentd/runtime), reports their status, and answers logs and
// exec requests.
//
// Subscribes: its node's keys in the KV bucket gantry-node-pods
// (bus.NodePodFilter(node): the pods bound here, never the cluster's pod
// stream), through a bus.KeyTail: their values, then the bucket's writes
// to them as core messages) and its Node's key in gantry-state (to report its status again
// when another party marked it not ready). ConfigMaps and Secrets for env
// and volumes are read through the query API (bus.Client.Query, list by
// name), re-read every ResyncInterval.
//
// Sends: node apply (first registration; later starts send label and
// patch, so cordon and taints stay the cluster's), node status (when it
// changes), pod status (when it changes), pod finalize (a terminating
// pod's containers are stopped and removed).
//
// Heartbeat: bus.NodeLease in gantry-leases under bus.LeaseKey(node),
// every LeaseInterval; not an event.
//
// Answers: bus.AgentSubject(node, "logs") and (node, "exec") with the
// stream protocol described in protocol.go; Logs and Exec are its client.
//
// Metrics: NodeUsage (per-container CPU and memory from cgroups) on
// bus.MetricsSubject(node) every MetricsInterval, plain NATS; one
// containerd listing per sample for the whole node.
//
// Pod lifecycle: one worker goroutine per pod serialises everything done
// to it: volumes, sandbox (netns + IP; a new pod's app containers are
// created while CNI attaches it and started once it has, see firstStarts),
// init containers in order to completion, app containers, restarts by
// restartPolicy with exponential back-off (Backoff), startup/liveness/
// readiness probes (exec, httpGet, tcpSocket), graceful termination
// (SIGTERM, grace, SIGKILL, remove, finalize). Stopping the agent leaves
// pods running; a new agent adopts them (same netns and IP, containers
// untouched) and removes pods that were deleted while it was down.
//
// Idle cost: a running container's exit wakes its worker (Runtime.OnExit:
// one containerd event subscription for the node, no goroutine or stream
// per container), so a resync reads from containerd only what no watch covers,
// and everything at least every fullObserve resyncs; the node IP is
// detected once a minute (nodeIPTTL), not per status.
//
// Ready when: Ready() is closed: the node is registered and every pod bound
// to it has a worker.
package agent
