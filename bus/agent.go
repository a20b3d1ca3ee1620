package bus

import "time"

// NodeLease is the value of a node's key in LeaseBucket: the agent's
// heartbeat, renewed every few seconds (not an event).
type NodeLease struct {
	HolderIdentity       string    `json:"holderIdentity"`
	RenewTime            time.Time `json:"renewTime"`
	LeaseDurationSeconds int32     `json:"leaseDurationSeconds"`
}

// Agent request verbs answered on AgentSubject(node, verb).
const (
	AgentLogs        = "logs"
	AgentExec        = "exec"
	AgentPortForward = "portforward"
)

// NodeUsage is what a node's agent publishes on MetricsSubject(node) every
// few seconds (metrics are not events): its pods' containers' usage.
type NodeUsage struct {
	Node string     `json:"node"`
	Time time.Time  `json:"time"`
	Pods []PodUsage `json:"pods"`
}

// PodUsage is one pod's containers' usage.
type PodUsage struct {
	Namespace  string           `json:"namespace"`
	Name       string           `json:"name"`
	UID        string           `json:"uid"`
	Containers []ContainerUsage `json:"containers"`
}

// ContainerUsage is one container's usage: cumulative CPU time, the CPU
// rate since the last sample in millicores, and the memory working set.
type ContainerUsage struct {
	Name          string `json:"name"`
	CPUNanos      uint64 `json:"cpuUsageNanoseconds"`
	CPUMillicores int64  `json:"cpuMillicores"`
	MemoryBytes   uint64 `json:"memoryWorkingSetBytes"`
}
