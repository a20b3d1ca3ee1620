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
	AgentLogs = "logs"
	AgentExec = "exec"
)
