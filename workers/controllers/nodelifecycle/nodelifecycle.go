package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Config holds the timings, with Kubernetes' defaults from DefaultConfig.
type Config struct {
	// GracePeriod is how long a node may miss heartbeats before its Ready
	// condition becomes Unknown (kube-controller-manager: 40s).
	GracePeriod time.Duration
	// DefaultTolerationSeconds is how long pods without their own
	// not-ready/unreachable toleration stay on such a node (300s, as the
	// DefaultTolerationSeconds admission plugin adds).
	DefaultTolerationSeconds int64
}

// DefaultConfig is the Kubernetes default.
func DefaultConfig() Config {
	return Config{GracePeriod: 40 * time.Second, DefaultTolerationSeconds: 300}
}

// Env is what Reconcile needs from the world, injected.
type Env struct {
	Now    time.Time
	Config Config
}

// Result holds the intents for one node.
type Result struct {
	// Ready is the new Ready condition when it should change, else nil.
	Ready *corev1.NodeCondition
	// Taints is the node's full new taint list when it should change.
	Taints        []corev1.Taint
	TaintsChanged bool
	// Evict lists pods to delete because a NoExecute taint they do not
	// tolerate (or no longer tolerate) is on the node.
	Evict []*corev1.Pod
	// RequeueAfter is when the next eviction or grace expiry is due.
	RequeueAfter time.Duration
}

// Reconcile decides a node's health from its last heartbeat (lease renew
// time): Ready=Unknown after the grace period, the matching not-ready or
// unreachable taints (NoSchedule and NoExecute), and which of its pods to
// evict now.
func Reconcile(node *corev1.Node, lastHeartbeat time.Time, pods []*corev1.Pod, env Env) Result {
	var res Result
	ready := readyCondition(node)
	if expired := !lastHeartbeat.Add(env.Config.GracePeriod).After(env.Now); expired && readyStatus(ready) != corev1.ConditionUnknown {
		res.Ready = unknownCondition(ready, env.Now)
		ready = res.Ready
	} else if !expired {
		res.RequeueAfter = lastHeartbeat.Add(env.Config.GracePeriod).Sub(env.Now)
	}
	taints := wantTaints(node.Spec.Taints, readyStatus(ready), env.Now)
	if !sameTaints(taints, node.Spec.Taints) {
		res.Taints, res.TaintsChanged = taints, true
	}
	evict, next := evictions(taints, pods, env)
	res.Evict = evict
	if next > 0 && (res.RequeueAfter == 0 || next < res.RequeueAfter) {
		res.RequeueAfter = next
	}
	return res
}

func readyCondition(node *corev1.Node) *corev1.NodeCondition {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == corev1.NodeReady {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}

// readyStatus treats a node that never reported as Unknown.
func readyStatus(c *corev1.NodeCondition) corev1.ConditionStatus {
	if c == nil {
		return corev1.ConditionUnknown
	}
	return c.Status
}

func unknownCondition(prev *corev1.NodeCondition, now time.Time) *corev1.NodeCondition {
	c := &corev1.NodeCondition{
		Type:               corev1.NodeReady,
		Status:             corev1.ConditionUnknown,
		Reason:             "NodeStatusUnknown",
		Message:            "Kubelet stopped posting node status.",
		LastTransitionTime: metav1.NewTime(now),
	}
	if prev != nil {
		c.LastHeartbeatTime = prev.LastHeartbeatTime
	}
	return c
}
