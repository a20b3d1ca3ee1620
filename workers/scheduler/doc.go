// Package scheduler decides which node each pending pod runs on.
//
// The core is pure: Compute (a batch) and Schedule (one pod) read a
// ClusterView, declared here and satisfied by projections, and return a Plan
// or a Decision. The loop that feeds it events and sends its bindings is
// thin and lives beside it; nothing here does I/O.
//
// Pipeline, as in kube-scheduler and nomad:
//
//	snapshot ─► filter (feasibility) ─► score ─► pick ─► assume ─► Plan
//	  Cache      round-robin, stop at     weighted   seeded     the next pod
//	             numFeasibleNodesToFind   0..100     tie-break  sees it
//
// Filters, in order (the first failure is the node's reason):
// NodeUnschedulable (cordon), NodeName, Ready condition (as the not-ready /
// unreachable taint), TaintToleration (NoSchedule, NoExecute), NodeAffinity
// (nodeSelector and required affinity: In, NotIn, Exists, DoesNotExist, Gt,
// Lt, matchFields metadata.name), NodePorts, NodeResourcesFit (cpu, memory,
// pod count), PodTopologySpread (DoNotSchedule), InterPodAffinity (required
// pod affinity, then pod anti-affinity, then existing pods' anti-affinity
// against the pod; namespaces, namespaceSelector, matchLabelKeys and
// mismatchLabelKeys honoured; see interpod.go).
//
// Scores (weight): least allocated (1), balanced allocation (1), preferred
// node affinity (2), PreferNoSchedule taints (3), topology spread
// ScheduleAnyway (2), pods of the same controller owner (2), inter-pod
// affinity (2: preferred terms both ways and existing pods' required
// affinity at hardPodAffinityWeight 1, normalised min→0, max→100).
//
// Inter-pod affinity costs nothing for a pod without terms in a cluster
// whose bound pods have none: the Cache keeps the bound pods with terms
// apart, and a pod with terms counts the matching pods per topology domain
// in one pass when its podState is built.
//
// Vocabulary:
//   - feasible: a node that passes every filter for the pod.
//   - assume: account a pod on a node before its binding is confirmed.
//   - FitError: why a pod fits nowhere, in kube-scheduler's words
//     ("0/3 nodes are available: 2 Insufficient cpu.").
//
// Not implemented yet: topology spread minDomains/matchLabelKeys/node
// policies, extended resources and ephemeral-storage, volumes, preemption,
// sidecar init containers.
//
// Worker contract (for the loop the lead wires up):
//
// Subscribes: pod events (created, bound, deleted, phase changed), node
// events (registered, updated, cordoned, tainted, removed) and namespace
// events (their labels, for namespaceSelector) from the event stream, one
// durable consumer "scheduler"; pods with an empty spec.nodeName and
// schedulerName gantry or default-scheduler are queued as pending. A pod
// that waits for a required pod affinity is retried when a pod is placed.
//
// Sends: bind pod (pod → node) for each Binding; update pod status
// (PodScheduled=False, reason Unschedulable, message FitError text) for each
// Failure. A rejected bind (conflict) removes the assumed pod from the Cache
// and requeues it.
//
// Metrics: scheduler_pending_pods, scheduler_schedule_attempts_total{result
// = scheduled|unschedulable|error}, scheduler_scheduling_duration_seconds,
// scheduler_feasible_nodes, scheduler_cache_nodes, scheduler_cache_pods.
//
// Ready when: the Cache has been built from the projection snapshot and the
// consumer has caught up with the stream tail, and this replica holds the
// leader lease.
package scheduler
