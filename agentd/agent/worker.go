package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/agentd/cni"
	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// podWorker drives one pod: everything it does to the runtime happens on
// its own goroutine, so work on one pod is serialised. It is woken by a
// new version of the pod, a container exit, a probe result, a back-off
// expiring, or the resync interval.
type podWorker struct {
	a    *Agent
	uid  string
	wake chan struct{}

	mu   sync.Mutex
	pod  *corev1.Pod
	gone bool

	// Owned by the worker goroutine.
	ctrs      map[string]*ctrState
	info      runtime.PodInfo
	podErr    string // why the sandbox or a volume could not be set up
	podReason string // podErr's kind: ReasonFailedCreatePodSandBox, ReasonFailedMount
	volumes   map[string]*volume
	prev      corev1.PodStatus // the status last reported (or found on adoption)
	lastSent  []byte
	nextWake  time.Time

	// A sandbox that could not be set up (the pod network failed) is
	// retried with Backoff, not at every wake-up: the worker's own status
	// reports and resyncs do not bring the retry forward.
	sandboxErr   string
	sandboxDelay time.Duration
	sandboxNext  time.Time
}

func newPodWorker(a *Agent, pod *corev1.Pod) *podWorker {
	w := &podWorker{a: a, uid: string(pod.UID), wake: make(chan struct{}, 1), pod: pod,
		ctrs: map[string]*ctrState{}, volumes: map[string]*volume{}, prev: *pod.Status.DeepCopy()}
	if pod.Status.Phase != "" {
		w.lastSent, _ = json.Marshal(pod.Status)
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			w.ctr(cs.Name).last = cs.LastTerminationState.Terminated
		}
	}
	return w
}

// update hands the worker a new version of its pod (nil: the pod is gone).
func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	if pod == nil {
		w.gone = true
	} else {
		w.pod = pod
	}
	w.mu.Unlock()
	w.poke()
}

func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.gone
}

func (w *podWorker) key() string {
	pod, _ := w.snapshot()
	return pod.Namespace + "/" + pod.Name
}

// run syncs until the pod is finished with or ctx ends (the agent stops:
// containers keep running).
func (w *podWorker) run(ctx context.Context) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for {
		if w.sync(wctx) {
			w.stopProbes()
			return
		}
		delay := w.a.cfg.ResyncInterval
		if !w.nextWake.IsZero() {
			delay = min(delay, max(w.nextWake.Sub(w.a.cfg.Clock.Now()), time.Millisecond))
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			w.stopProbes()
			return
		case <-w.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// wakeAt asks for a sync no later than t.
func (w *podWorker) wakeAt(t time.Time) {
	if w.nextWake.IsZero() || t.Before(w.nextWake) {
		w.nextWake = t
	}
}

// sync brings the pod one step closer to its spec and reports its status.
// It returns true when the worker is done with the pod.
func (w *podWorker) sync(ctx context.Context) bool {
	pod, gone := w.snapshot()
	w.nextWake = time.Time{}
	if gone {
		w.remove(ctx)
		return true
	}
	if pod.DeletionTimestamp != nil {
		return w.terminate(ctx, pod)
	}
	if w.ensureVolumes(ctx, pod) && w.ensureSandbox(ctx, pod) {
		w.observe(ctx, pod)
		w.drive(ctx, pod)
	}
	w.report(ctx, pod)
	return false
}

func (w *podWorker) ensureSandbox(ctx context.Context, pod *corev1.Pod) bool {
	if w.info.IP != "" {
		return true
	}
	if w.sandboxErr != "" && w.a.cfg.Clock.Now().Before(w.sandboxNext) {
		w.podErr, w.podReason = w.sandboxErr, ReasonFailedCreatePodSandBox
		w.wakeAt(w.sandboxNext)
		return false
	}
	info, err := w.a.rt.RunPod(ctx, w.podSpec(pod), w.firstStarts(ctx, pod)...)
	if err != nil {
		w.sandboxErr = "failed to set up the pod sandbox: " + err.Error()
		w.podErr, w.podReason = w.sandboxErr, ReasonFailedCreatePodSandBox
		w.volumes = map[string]*volume{} // RunPod's clean-up removed the pod's directory, volumes too: prepare them again
		w.sandboxDelay = w.a.cfg.Backoff.Next(w.sandboxDelay, 0)
		w.sandboxNext = w.a.cfg.Clock.Now().Add(w.sandboxDelay)
		w.a.cfg.Log.Warn("agent: pod sandbox", "pod", pod.Namespace+"/"+pod.Name, "err", err, "retry in", w.sandboxDelay)
		w.wakeAt(w.sandboxNext)
		return false
	}
	w.info, w.podErr, w.podReason = info, "", ""
	w.sandboxErr, w.sandboxDelay = "", 0
	return true
}

// firstStarts are the app containers RunPod may create while it attaches
// a new pod's network, so that they do not wait for it (CNI ADD is the
// slowest part of a pod's sandbox): for a pod that never had a container
// and has no init containers, those whose environment resolves now
// without the pod's IP. The others, and any RunPod fails to start, drive
// starts as usual.
func (w *podWorker) firstStarts(ctx context.Context, pod *corev1.Pod) []runtime.ContainerSpec {
	if len(pod.Spec.InitContainers) > 0 {
		return nil
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.ContainerID != "" {
			return nil // it ran before: adoption or a restart, not a new pod
		}
	}
	var out []runtime.ContainerSpec
	for _, c := range pod.Spec.Containers {
		if needsPodIP(c) {
			continue
		}
		env, err := w.env(ctx, pod, c)
		if err != nil {
			continue
		}
		out = append(out, runtime.ContainerSpec{Container: expandCommand(c, env), Env: env, Mounts: w.mounts(pod, c)})
	}
	return out
}

// needsPodIP: the container's env names the pod's IP, known once the
// network is attached.
func needsPodIP(c corev1.Container) bool {
	for _, e := range c.Env {
		if f := e.ValueFrom; f != nil && f.FieldRef != nil && strings.HasPrefix(f.FieldRef.FieldPath, "status.podIP") {
			return true
		}
	}
	return false
}

func (w *podWorker) podSpec(pod *corev1.Pod) runtime.PodSpec {
	s := runtime.PodSpec{UID: w.uid, Name: pod.Name, Namespace: pod.Namespace,
		Hostname: pod.Spec.Hostname, DNS: w.a.dnsConfig(pod), HostAliases: pod.Spec.HostAliases}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				s.Ports = append(s.Ports, cni.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort,
					Protocol: lower(string(p.Protocol)), HostIP: p.HostIP})
			}
		}
	}
	return s
}

// observe reads every container's latest attempt from the runtime, but
// for running attempts with a live waiter (their exit wakes the worker),
// which are read only every fullObserve resyncs: most resyncs of a pod
// whose containers all run ask the runtime nothing. A waiter that ended
// without the attempt having exited (containerd went away) is not
// replaced, so such a container is read at every resync.
func (w *podWorker) observe(ctx context.Context, pod *corev1.Pod) {
	now := w.a.cfg.Clock.Now()
	for _, c := range allContainers(pod) {
		cs := w.ctr(c.Name)
		if cs.watched(now, w.a.cfg.ResyncInterval) {
			continue
		}
		st, err := w.a.rt.ContainerStatus(ctx, w.uid, c.Name)
		switch {
		case err == nil:
			cs.cur, cs.present, cs.readAt = st, true, now
		case errors.Is(err, runtime.ErrNotFound):
			cs.present = false
		case ctx.Err() == nil:
			w.a.cfg.Log.Warn("agent: container status", "pod", w.key(), "container", c.Name, "err", err)
		}
		if !cs.present || cs.cur.State != runtime.StateRunning {
			cs.stopProbes()
		}
	}
}

// report sends the pod's status when it differs from the last one sent.
func (w *podWorker) report(ctx context.Context, pod *corev1.Pod) {
	st := w.status(pod)
	b, _ := json.Marshal(st)
	if bytes.Equal(b, w.lastSent) {
		return
	}
	cmd := aggregates.Command{Namespace: pod.Namespace, Name: pod.Name, Status: b}
	_, err := w.a.client.Do(ctx, "pod", aggregates.VerbStatus, cmd, bus.CommandMeta{Reason: "pod " + string(st.Phase)})
	if err != nil && !apierrors.IsNotFound(err) {
		if ctx.Err() == nil {
			w.a.cfg.Log.Warn("agent: report pod status", "pod", w.key(), "err", err)
			w.wakeAt(w.a.cfg.Clock.Now().Add(time.Second))
		}
		return
	}
	w.lastSent, w.prev = b, st
}

// terminate stops a terminating pod's containers within its grace
// period, removes it and tells the cluster it is gone (finalize).
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod) bool {
	w.stopProbes()
	grace := w.graceLeft(pod)
	var wg sync.WaitGroup
	errs := make(chan error, len(allContainers(pod)))
	for _, c := range allContainers(pod) {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			if err := w.a.rt.StopContainer(ctx, w.uid, name, grace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				errs <- err
			}
		}(c.Name)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return w.retry(ctx, "stop containers", err)
	}
	if err := w.a.rt.RemovePod(ctx, w.uid); err != nil {
		return w.retry(ctx, "remove pod", err)
	}
	cmd := aggregates.Command{Namespace: pod.Namespace, Name: pod.Name}
	_, err := w.a.client.Do(ctx, "pod", aggregates.VerbFinalize, cmd, bus.CommandMeta{Reason: "containers stopped and removed"})
	if err != nil && !apierrors.IsNotFound(err) {
		return w.retry(ctx, "finalize", err)
	}
	return true
}

func (w *podWorker) retry(ctx context.Context, what string, err error) bool {
	if ctx.Err() == nil {
		w.a.cfg.Log.Warn("agent: "+what, "pod", w.key(), "err", err)
	}
	w.wakeAt(w.a.cfg.Clock.Now().Add(time.Second))
	return false
}

// graceLeft is what remains of the deletion grace period.
func (w *podWorker) graceLeft(pod *corev1.Pod) time.Duration {
	secs := int64(30)
	if pod.DeletionGracePeriodSeconds != nil {
		secs = *pod.DeletionGracePeriodSeconds
	}
	full := time.Duration(secs) * time.Second
	// deletionTimestamp is stored to the second: allow that much slack,
	// and never more than the full period.
	deadline := pod.DeletionTimestamp.Add(full + time.Second)
	return min(max(deadline.Sub(w.a.cfg.Clock.Now()), 0), full)
}

// remove kills and removes a pod that was deleted outright.
func (w *podWorker) remove(ctx context.Context) {
	w.stopProbes()
	for i := 0; i < 5; i++ {
		err := w.a.rt.RemovePod(ctx, w.uid)
		if err == nil || ctx.Err() != nil {
			return
		}
		w.a.cfg.Log.Warn("agent: remove pod", "uid", w.uid, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (w *podWorker) stopProbes() {
	for _, cs := range w.ctrs {
		cs.stopProbes()
	}
}

func allContainers(pod *corev1.Pod) []corev1.Container {
	return append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

var _ = fmt.Sprintf
