package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/agentd/runtime"
)

// Waiting reasons, as Kubernetes names them.
const (
	ReasonContainerCreating   = "ContainerCreating"
	ReasonPodInitializing     = "PodInitializing"
	ReasonErrImagePull        = "ErrImagePull"
	ReasonImagePullBackOff    = "ImagePullBackOff"
	ReasonErrImageNeverPull   = "ErrImageNeverPull"
	ReasonCrashLoopBackOff    = "CrashLoopBackOff"
	ReasonCreateConfigError   = "CreateContainerConfigError"
	ReasonRunContainerError   = "RunContainerError"
	reasonLivenessProbeFailed = "liveness probe failed"
)

// ctrState is what the worker remembers of one container across syncs.
type ctrState struct {
	cur     runtime.ContainerStatus // latest attempt, when present
	present bool
	readAt  time.Time // when cur was last read from the runtime

	waitReason, waitMessage string
	delay                   time.Duration // restart back-off
	nextStart               time.Time     // no (re)start before this
	seenExit                int           // attempt whose exit set the back-off
	pullDelay               time.Duration
	last                    *corev1.ContainerStateTerminated // the attempt before the current one

	probes   *probeSet
	waiter   int           // attempt whose exit is watched (runtime OnExit)
	waitDone chan struct{} // closed when that watch has fired
	killing  int           // attempt being stopped after a probe failure
}

// fullObserve: a running attempt under a live waiter is still read from
// the runtime every this many resync intervals, so that even a lost exit
// wake-up heals.
const fullObserve = 6

// watched reports whether the current attempt runs under a live waiter,
// which wakes the worker when it exits, and was read from the runtime
// within fullObserve resync intervals: it need not be read again now.
func (cs *ctrState) watched(now time.Time, resync time.Duration) bool {
	if !cs.present || cs.cur.State != runtime.StateRunning || cs.waiter != cs.cur.Attempt || cs.waitDone == nil ||
		now.Sub(cs.readAt) >= fullObserve*resync {
		return false
	}
	select {
	case <-cs.waitDone:
		return false
	default:
		return true
	}
}

func (w *podWorker) ctr(name string) *ctrState {
	cs := w.ctrs[name]
	if cs == nil {
		cs = &ctrState{seenExit: -1, waiter: -1, killing: -1}
		w.ctrs[name] = cs
	}
	return cs
}

func (cs *ctrState) stopProbes() {
	if cs.probes != nil {
		cs.probes.cancel()
		cs.probes = nil
	}
}

// drive runs the init containers one after another to completion, then
// the app containers, restarting them as the restart policy says.
func (w *podWorker) drive(ctx context.Context, pod *corev1.Pod) {
	for _, c := range pod.Spec.InitContainers {
		cs := w.ctr(c.Name)
		switch {
		case !cs.present:
			w.start(ctx, pod, c, cs, 0)
			return
		case cs.cur.State == runtime.StateRunning:
			w.watch(ctx, pod, c, cs)
			return
		case cs.cur.State == runtime.StateExited && cs.cur.ExitCode == 0:
			continue
		case pod.Spec.RestartPolicy == corev1.RestartPolicyNever && cs.cur.State == runtime.StateExited:
			return // the pod failed
		default:
			w.restart(ctx, pod, c, cs)
			return
		}
	}
	for _, c := range pod.Spec.Containers {
		cs := w.ctr(c.Name)
		switch {
		case !cs.present:
			w.start(ctx, pod, c, cs, 0)
		case cs.cur.State == runtime.StateRunning:
			w.watch(ctx, pod, c, cs)
		case willRestart(pod.Spec.RestartPolicy, cs.cur):
			w.restart(ctx, pod, c, cs)
		}
	}
}

// willRestart: Always restarts; OnFailure restarts what exited non-zero.
func willRestart(policy corev1.RestartPolicy, st runtime.ContainerStatus) bool {
	switch {
	case st.State == runtime.StateCreated:
		return true // created but never started, or its task was lost
	case st.State != runtime.StateExited:
		return false
	case policy == corev1.RestartPolicyAlways:
		return true
	case policy == corev1.RestartPolicyOnFailure:
		return st.ExitCode != 0
	}
	return false
}

// restart starts the next attempt of an exited container once its
// back-off has passed.
func (w *podWorker) restart(ctx context.Context, pod *corev1.Pod, c corev1.Container, cs *ctrState) {
	st := cs.cur
	if cs.seenExit != st.Attempt {
		cs.seenExit = st.Attempt
		cs.delay = w.a.cfg.Backoff.Next(cs.delay, st.FinishedAt.Sub(st.StartedAt))
		from := st.FinishedAt
		if from.IsZero() {
			from = w.a.cfg.Clock.Now()
		}
		cs.nextStart = from.Add(cs.delay)
		cs.waitReason = ReasonCrashLoopBackOff
		cs.waitMessage = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", cs.delay, c.Name, pod.Name, pod.Namespace, w.uid)
	}
	term := terminated(st)
	if w.start(ctx, pod, c, cs, st.Attempt+1) && term != nil {
		cs.last = term
	}
}

// start creates and starts one attempt of a container: resolve its
// environment, then StartContainer makes its image present (by its pull
// policy) and starts it; a pull failure backs off as ImagePullBackOff.
func (w *podWorker) start(ctx context.Context, pod *corev1.Pod, c corev1.Container, cs *ctrState, attempt int) bool {
	now := w.a.cfg.Clock.Now()
	if now.Before(cs.nextStart) {
		w.wakeAt(cs.nextStart)
		if cs.waitReason == ReasonErrImagePull {
			cs.waitReason = ReasonImagePullBackOff
			cs.waitMessage = fmt.Sprintf("Back-off pulling image %q", c.Image)
		}
		return false
	}
	if !cs.present && cs.waitReason == "" {
		cs.waitReason = ReasonContainerCreating
	}
	env, err := w.env(ctx, pod, c)
	if err != nil {
		cs.waitReason, cs.waitMessage = ReasonCreateConfigError, err.Error()
		w.wakeAt(now.Add(w.a.cfg.ResyncInterval))
		return false
	}
	spec := runtime.ContainerSpec{Container: expandCommand(c, env), Env: env, Mounts: w.mounts(pod, c), Attempt: attempt}
	err = w.a.rt.StartContainer(ctx, w.uid, spec)
	if errors.Is(err, runtime.ErrImagePull) || errors.Is(err, runtime.ErrImageNeverPull) {
		cs.pullDelay = w.a.cfg.Backoff.Next(cs.pullDelay, 0)
		cs.nextStart = now.Add(cs.pullDelay)
		cs.waitReason, cs.waitMessage = ReasonErrImagePull, err.Error()
		if errors.Is(err, runtime.ErrImageNeverPull) {
			cs.waitReason = ReasonErrImageNeverPull
		}
		w.wakeAt(cs.nextStart)
		return false
	}
	cs.pullDelay = 0
	if err != nil && !errors.Is(err, runtime.ErrAlreadyRunning) {
		cs.delay = w.a.cfg.Backoff.Next(cs.delay, 0)
		cs.nextStart = now.Add(cs.delay)
		cs.waitReason, cs.waitMessage = ReasonRunContainerError, err.Error()
		w.wakeAt(cs.nextStart)
		return false
	}
	cs.waitReason, cs.waitMessage = "", ""
	if st, err := w.a.rt.ContainerStatus(ctx, w.uid, c.Name); err == nil {
		cs.cur, cs.present, cs.readAt = st, true, w.a.cfg.Clock.Now()
		if st.State == runtime.StateRunning {
			w.watch(ctx, pod, c, cs)
		}
	}
	return true
}

// watch looks after a running attempt: a waiter that wakes the worker
// when it exits, its probes, and a restart when a probe demands one.
func (w *podWorker) watch(ctx context.Context, pod *corev1.Pod, c corev1.Container, cs *ctrState) {
	attempt := cs.cur.Attempt
	if cs.waiter != attempt {
		done := make(chan struct{})
		cs.waiter, cs.waitDone = attempt, done
		exited := func() { close(done); w.poke() }
		cancel, err := w.a.rt.OnExit(ctx, w.uid, c.Name, exited)
		if err != nil {
			exited()
		} else {
			context.AfterFunc(ctx, cancel)
		}
	}
	if cs.probes == nil || cs.probes.attempt != attempt {
		cs.stopProbes()
		cs.probes = w.startProbes(ctx, c, attempt)
		w.carryOver(cs.probes, c.Name, cs.cur.ID)
	}
	if why := cs.probes.killReason(); why != "" && cs.killing != attempt {
		cs.killing = attempt
		grace := podGrace(pod)
		w.a.cfg.Log.Info("agent: restarting container", "pod", w.key(), "container", c.Name, "why", why)
		go func() {
			if err := w.a.rt.StopContainer(ctx, w.uid, c.Name, grace); err != nil && ctx.Err() == nil {
				w.a.cfg.Log.Warn("agent: stop container", "pod", w.key(), "container", c.Name, "err", err)
			}
			w.poke()
		}()
	}
}

func podGrace(pod *corev1.Pod) time.Duration {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

func terminated(st runtime.ContainerStatus) *corev1.ContainerStateTerminated {
	if st.State != runtime.StateExited {
		return nil
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: int32(st.ExitCode), Reason: st.Reason,
		StartedAt: metav1.NewTime(st.StartedAt), FinishedAt: metav1.NewTime(st.FinishedAt),
		ContainerID: "containerd://" + st.ID,
	}
}
