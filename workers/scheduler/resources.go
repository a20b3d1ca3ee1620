package scheduler

import corev1 "k8s.io/api/core/v1"

// Defaults used for scoring when a container sets no request, as in
// kube-scheduler: without them best-effort pods would all pile on one node.
const (
	defaultMilliCPURequest = 100               // 0.1 core
	defaultMemoryRequest   = 200 * 1024 * 1024 // 200 MiB
	defaultMaxPods         = 110               // kubelet default when a node reports none
)

// resources is the slice of a node's capacity the scheduler accounts for.
type resources struct {
	milliCPU int64
	memory   int64
	pods     int64
}

func (r *resources) add(o resources) {
	r.milliCPU += o.milliCPU
	r.memory += o.memory
	r.pods += o.pods
}

func (r *resources) sub(o resources) {
	r.milliCPU -= o.milliCPU
	r.memory -= o.memory
	r.pods -= o.pods
}

// podRequests is what a pod asks for: the sum over its containers, at least
// the largest init container, plus the pod overhead; one pod slot.
func podRequests(pod *corev1.Pod) resources {
	r := resources{pods: 1}
	for i := range pod.Spec.Containers {
		req := pod.Spec.Containers[i].Resources.Requests
		r.milliCPU += req.Cpu().MilliValue()
		r.memory += req.Memory().Value()
	}
	for i := range pod.Spec.InitContainers {
		req := pod.Spec.InitContainers[i].Resources.Requests
		r.milliCPU = max(r.milliCPU, req.Cpu().MilliValue())
		r.memory = max(r.memory, req.Memory().Value())
	}
	r.milliCPU += pod.Spec.Overhead.Cpu().MilliValue()
	r.memory += pod.Spec.Overhead.Memory().Value()
	return r
}

// nonZeroRequests is podRequests with the scoring defaults filled in for
// containers that request nothing.
func nonZeroRequests(pod *corev1.Pod) resources {
	r := resources{pods: 1}
	for i := range pod.Spec.Containers {
		req := pod.Spec.Containers[i].Resources.Requests
		r.milliCPU += quantityOr(req, corev1.ResourceCPU, true, defaultMilliCPURequest)
		r.memory += quantityOr(req, corev1.ResourceMemory, false, defaultMemoryRequest)
	}
	return r
}

func quantityOr(list corev1.ResourceList, name corev1.ResourceName, milli bool, def int64) int64 {
	q, ok := list[name]
	if !ok {
		return def
	}
	if milli {
		return q.MilliValue()
	}
	return q.Value()
}

// nodeAllocatable reads status.allocatable, falling back to capacity. A node
// that reports no pod count gets the kubelet default of 110.
func nodeAllocatable(node *corev1.Node) resources {
	list := node.Status.Allocatable
	if len(list) == 0 {
		list = node.Status.Capacity
	}
	r := resources{
		milliCPU: list.Cpu().MilliValue(),
		memory:   list.Memory().Value(),
		pods:     defaultMaxPods,
	}
	if q, ok := list[corev1.ResourcePods]; ok {
		r.pods = q.Value()
	}
	return r
}
