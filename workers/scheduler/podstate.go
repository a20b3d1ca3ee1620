package scheduler

import corev1 "k8s.io/api/core/v1"

// podState is what one decision precomputes about the pod being placed, so
// the per-node filters and scores do no repeated work.
type podState struct {
	pod      *corev1.Pod
	requests resources
	nonZero  resources
	owner    string
	ports    bool
	hard     []constraintState // DoNotSchedule spread constraints
	soft     []constraintState // ScheduleAnyway spread constraints
	inter    *interPodState    // pod (anti-)affinity; nil when none applies
}

func (c *Cache) newPodState(pod *corev1.Pod) *podState {
	return &podState{
		pod:      pod,
		requests: podRequests(pod),
		nonZero:  nonZeroRequests(pod),
		owner:    ownerKey(pod),
		ports:    wantsHostPorts(pod),
		hard:     c.spreadStates(pod, corev1.DoNotSchedule),
		soft:     c.spreadStates(pod, corev1.ScheduleAnyway),
		inter:    c.interPodState(pod),
	}
}
