package agent

import (
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/agentd/runtime"
)

// Why a pod is not set up, as the kubelet's events name it: the pod's
// status.reason and its PodReadyToStartContainers condition carry it.
const (
	ReasonFailedCreatePodSandBox = "FailedCreatePodSandBox"
	ReasonFailedMount            = "FailedMount"
)

// status is the pod's observed status, from what the worker knows.
func (w *podWorker) status(pod *corev1.Pod) corev1.PodStatus {
	now := w.a.cfg.Clock.Now()
	st := corev1.PodStatus{
		HostIP:    w.a.nodeIP(),
		PodIP:     w.info.IP,
		StartTime: w.prev.StartTime,
		QOSClass:  qosClass(pod),
	}
	st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	if st.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	if st.StartTime == nil {
		t := metav1.NewTime(now.UTC().Truncate(time.Second))
		st.StartTime = &t
	}
	initialized, initFailed := true, false
	for _, c := range pod.Spec.InitContainers {
		cst := w.containerStatus(c, true)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cst)
		if t := cst.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		initialized = false
		if t := cst.State.Terminated; t != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			initFailed = true
		}
	}
	for _, c := range pod.Spec.Containers {
		cst := w.containerStatus(c, false)
		if !initialized && cst.State.Waiting != nil {
			cst.State.Waiting = &corev1.ContainerStateWaiting{Reason: ReasonPodInitializing}
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cst)
	}
	st.Phase = phase(pod.Spec.RestartPolicy, initialized, initFailed, st.ContainerStatuses, w.podErr)
	if w.podErr != "" {
		st.Reason, st.Message = w.podReason, w.podErr
	}
	st.Conditions = w.conditions(pod, initialized, st, now)
	return st
}

// containerStatus reports one container from its latest attempt.
func (w *podWorker) containerStatus(c corev1.Container, init bool) corev1.ContainerStatus {
	cs := w.ctr(c.Name)
	out := corev1.ContainerStatus{Name: c.Name, Image: c.Image, LastTerminationState: lastState(cs.last)}
	f := false
	out.Started = &f
	if !cs.present {
		reason := cs.waitReason
		if reason == "" {
			reason = ReasonContainerCreating
		}
		out.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: cs.waitMessage}
		return out
	}
	cur := cs.cur
	out.ContainerID = "containerd://" + cur.ID
	out.ImageID = cur.Image
	out.RestartCount = int32(cur.Attempt)
	switch {
	case cur.State == runtime.StateRunning:
		out.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cur.StartedAt)}
		started := cs.probes == nil || cs.probes.isStarted()
		out.Started = &started
		out.Ready = started && (cs.probes == nil || cs.probes.isReady())
	case cs.waitReason != "" && cs.seenExit == cur.Attempt:
		// exited, waiting for the back-off before the next attempt
		out.State.Waiting = &corev1.ContainerStateWaiting{Reason: cs.waitReason, Message: cs.waitMessage}
		out.LastTerminationState = lastState(terminated(cur))
	default:
		if t := terminated(cur); t != nil {
			out.State.Terminated = t
		} else {
			out.State.Waiting = &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}
		}
	}
	return out
}

func lastState(t *corev1.ContainerStateTerminated) corev1.ContainerState {
	if t == nil {
		return corev1.ContainerState{}
	}
	return corev1.ContainerState{Terminated: t.DeepCopy()}
}

// phase follows Kubernetes: Pending until initialized and every container
// has run; Succeeded or Failed once every container has terminated for
// good; Running otherwise.
func phase(policy corev1.RestartPolicy, initialized, initFailed bool, cs []corev1.ContainerStatus, podErr string) corev1.PodPhase {
	if initFailed {
		return corev1.PodFailed
	}
	if !initialized || podErr != "" {
		return corev1.PodPending
	}
	done, failed := 0, 0
	for _, c := range cs {
		switch {
		case c.State.Running != nil:
		case c.State.Terminated != nil:
			code := c.State.Terminated.ExitCode
			if policy == corev1.RestartPolicyAlways || (policy == corev1.RestartPolicyOnFailure && code != 0) {
				continue // will be restarted
			}
			done++
			if code != 0 {
				failed++
			}
		case c.LastTerminationState.Terminated == nil && c.RestartCount == 0:
			return corev1.PodPending // never ran yet
		}
	}
	switch {
	case len(cs) > 0 && done == len(cs) && failed > 0:
		return corev1.PodFailed
	case len(cs) > 0 && done == len(cs):
		return corev1.PodSucceeded
	}
	return corev1.PodRunning
}

// conditions: PodScheduled, Initialized, ContainersReady, Ready. A
// condition keeps its lastTransitionTime while its status is unchanged.
func (w *podWorker) conditions(pod *corev1.Pod, initialized bool, st corev1.PodStatus, now time.Time) []corev1.PodCondition {
	var notReady []string
	for _, c := range st.ContainerStatuses {
		if !c.Ready {
			notReady = append(notReady, c.Name)
		}
	}
	sort.Strings(notReady)
	ready := len(notReady) == 0
	conds := []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		cond(corev1.PodInitialized, initialized, "ContainersNotInitialized", "containers with incomplete status: "+incompleteInit(st)),
		cond(corev1.ContainersReady, ready, "ContainersNotReady", "containers with unready status: ["+strings.Join(notReady, " ")+"]"),
		cond(corev1.PodReady, ready, "ContainersNotReady", "containers with unready status: ["+strings.Join(notReady, " ")+"]"),
		// The sandbox (netns, network, pod files) is set up.
		cond(corev1.PodReadyToStartContainers, w.info.IP != "", w.podReason, w.podErr),
	}
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		for i := 2; i < 4; i++ {
			conds[i].Reason, conds[i].Message = "PodCompleted", ""
		}
	}
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	for i := range conds {
		conds[i].LastTransitionTime = t
		for _, p := range w.prev.Conditions {
			if p.Type == conds[i].Type && p.Status == conds[i].Status {
				conds[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return conds
}

func cond(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
	if ok {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
}

func incompleteInit(st corev1.PodStatus) string {
	var names []string
	for _, c := range st.InitContainerStatuses {
		if t := c.State.Terminated; t == nil || t.ExitCode != 0 {
			names = append(names, c.Name)
		}
	}
	return "[" + strings.Join(names, " ") + "]"
}

// qosClass is Kubernetes' rule: Guaranteed when every container has
// equal cpu and memory requests and limits, BestEffort when none sets
// any, Burstable otherwise.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	any, guaranteed := false, true
	for _, c := range allContainers(pod) {
		r := c.Resources
		if len(r.Requests) > 0 || len(r.Limits) > 0 {
			any = true
		}
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			lim, ok := r.Limits[name]
			if !ok {
				guaranteed = false
				continue
			}
			if req, ok := r.Requests[name]; ok && !req.Equal(lim) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
