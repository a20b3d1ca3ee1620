package scheduler

import corev1 "k8s.io/api/core/v1"

// filter runs the feasibility checks in kube-scheduler's order and appends
// the reasons the node was rejected to reasons. Like kube-scheduler it stops
// at the first failing check; the resource check may give several reasons.
func filter(ps *podState, ni *nodeInfo, reasons []string) []string {
	checks := [...]func(*podState, *nodeInfo) string{
		unschedulableFilter,
		nodeNameFilter,
		readyFilter,
		taintFilter,
		affinityFilter,
		portsFilter,
	}
	for _, check := range checks {
		if r := check(ps, ni); r != "" {
			return append(reasons, r)
		}
	}
	if out := resourceFilter(ps, ni, reasons); len(out) > len(reasons) {
		return out
	}
	if r := spreadFilter(ps.hard, ni.node); r != "" {
		return append(reasons, r)
	}
	if r := podAffinityFilter(ps.inter, ni.node); r != "" {
		return append(reasons, r)
	}
	return reasons
}

// unschedulableFilter: a cordoned node takes only pods tolerating
// node.kubernetes.io/unschedulable:NoSchedule.
func unschedulableFilter(ps *podState, ni *nodeInfo) string {
	if !ni.unschedulable {
		return ""
	}
	cordon := corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	if !toleratedBy(&cordon, ps.pod.Spec.Tolerations) {
		return reasonUnschedulable
	}
	return ""
}

func nodeNameFilter(ps *podState, ni *nodeInfo) string {
	if ps.pod.Spec.NodeName != "" && ps.pod.Spec.NodeName != ni.name {
		return reasonNodeName
	}
	return ""
}

// readyFilter treats a node that is not Ready as carrying the taint the
// node lifecycle controller would put on it (not-ready when Ready=False or
// missing, unreachable when Unknown), so tolerating pods still fit.
func readyFilter(ps *podState, ni *nodeInfo) string {
	taint := ni.readyTaint
	if taint == nil || toleratedBy(taint, ps.pod.Spec.Tolerations) {
		return ""
	}
	return untoleratedTaintReason(taint)
}

func conditionTaint(node *corev1.Node) *corev1.Taint {
	status := corev1.ConditionFalse
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == corev1.NodeReady {
			status = node.Status.Conditions[i].Status
		}
	}
	switch status {
	case corev1.ConditionTrue:
		return nil
	case corev1.ConditionUnknown:
		return &corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	default:
		return &corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	}
}

func taintFilter(ps *podState, ni *nodeInfo) string {
	if t := firstUntoleratedTaint(ni.taints, ps.pod.Spec.Tolerations); t != nil {
		return untoleratedTaintReason(t)
	}
	return ""
}

func affinityFilter(ps *podState, ni *nodeInfo) string {
	if !matchesNodeSelectorAndAffinity(ps.pod, ni.node) {
		return reasonNodeAffinity
	}
	return ""
}

func portsFilter(ps *podState, ni *nodeInfo) string {
	if ps.ports && ni.ports.conflicts(ps.pod) {
		return reasonHostPorts
	}
	return ""
}

// resourceFilter compares the pod's requests with what is left of the
// node's allocatable. A zero request always fits, as in kube-scheduler.
func resourceFilter(ps *podState, ni *nodeInfo, reasons []string) []string {
	free := ni.allocatable
	free.sub(ni.requested)
	if free.pods < 1 {
		reasons = append(reasons, reasonTooManyPods)
	}
	if ps.requests.milliCPU > 0 && ps.requests.milliCPU > free.milliCPU {
		reasons = append(reasons, reasonInsufficientCPU)
	}
	if ps.requests.memory > 0 && ps.requests.memory > free.memory {
		reasons = append(reasons, reasonInsufficientMem)
	}
	return reasons
}
