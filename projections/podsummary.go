package projections

import corev1 "k8s.io/api/core/v1"

// PodSummary is how a pod reads in a list, as kubectl shows it: its ready
// containers, its restarts, and one status word (the phase, a waiting or
// terminated container's reason, or Terminating).
func PodSummary(p *corev1.Pod) (ready, restarts int32, status string) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
		restarts += cs.RestartCount
	}
	status = string(p.Status.Phase)
	if status == "" {
		status = string(corev1.PodPending)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			status = w.Reason
		} else if t := cs.State.Terminated; t != nil && t.Reason != "" && p.Status.Phase != corev1.PodSucceeded {
			status = t.Reason
		}
	}
	if p.DeletionTimestamp != nil {
		status = "Terminating"
	}
	return ready, restarts, status
}
