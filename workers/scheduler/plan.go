package scheduler

import corev1 "k8s.io/api/core/v1"

// Binding is the intent to bind one pod to one node.
type Binding struct {
	Pod  string // namespace/name
	Node string
}

// Failure is a pod that could not be placed and why. Reason is the text for
// the pod's PodScheduled=False condition.
type Failure struct {
	Pod    string
	Reason string
	Err    error
}

// Plan is the outcome of one batch: bindings to send and pods left pending.
type Plan struct {
	Bindings []Binding
	Failures []Failure
}

// Compute places a batch of pending pods on a snapshot of the view. Each
// placement is assumed before the next pod is considered, so the batch never
// over-commits a node. Pods are taken in the order given.
func Compute(view ClusterView, pending []*corev1.Pod, cfg Config) Plan {
	return Snapshot(view, cfg).ComputeBatch(pending)
}

// ComputeBatch is Compute on an existing cache; the cache keeps the
// assumed placements.
func (c *Cache) ComputeBatch(pending []*corev1.Pod) Plan {
	var plan Plan
	for _, pod := range pending {
		d, err := c.Schedule(pod)
		if err == nil {
			err = c.Assume(pod, d.Node)
		}
		if err != nil {
			plan.Failures = append(plan.Failures, Failure{Pod: podKey(pod), Reason: err.Error(), Err: err})
			continue
		}
		plan.Bindings = append(plan.Bindings, Binding{Pod: d.Pod, Node: d.Node})
	}
	return plan
}
