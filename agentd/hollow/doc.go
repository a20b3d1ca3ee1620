// Package hollow runs fake nodes, kubemark-style: many in one process, each
// registering a Node, renewing its lease and reporting the pods bound to it
// as running, without running anything. They load the control plane the
// way real agents do, so the scheduler and the controllers can be tested
// and benchmarked at a thousand nodes on one machine.
//
// Subscribes: the KV bucket gantry-node-pods, one bus.KeyTail per node
// filtered to that node's keys (bus.NodePodFilter), never the cluster's
// pod stream.
//
// Sends: create node (registration; an existing Node keeps its spec),
// status node (capacity, allocatable, Ready), status pod (Running and
// Ready after Options.StartDelay, with a fake pod IP; Succeeded after
// Options.RunFor for pods whose restartPolicy is not Always, or Failed if
// the pod carries ExitCodeAnnotation other than 0), finalize pod (a
// terminating pod's containers are "gone" at once).
//
// Heartbeats: puts {"renewTime": …} under bus.LeaseKey(node) in the KV
// bucket gantry-leases every Options.LeaseEvery. Node.Stop ends renewals
// and reporting: the node looks dead to the node lifecycle controller.
package hollow
