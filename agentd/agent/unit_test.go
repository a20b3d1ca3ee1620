package agent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/runtime"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "B": "y"}
	cases := map[string]string{
		"$(A)-$(B)": "x-y",
		"$$(A)":     "$(A)",
		"$(C)":      "$(C)",
		"$(A":       "$(A",
		"plain $":   "plain $",
	}
	for in, want := range cases {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPhase(t *testing.T) {
	run := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	ok := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}
	bad := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	creating := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}}}
	crashing := corev1.ContainerStatus{RestartCount: 2, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonCrashLoopBackOff}}}
	cases := []struct {
		name         string
		policy       corev1.RestartPolicy
		init, failed bool
		cs           []corev1.ContainerStatus
		want         corev1.PodPhase
	}{
		{"init running", corev1.RestartPolicyAlways, false, false, []corev1.ContainerStatus{creating}, corev1.PodPending},
		{"init failed, Never", corev1.RestartPolicyNever, false, true, []corev1.ContainerStatus{creating}, corev1.PodFailed},
		{"one creating", corev1.RestartPolicyAlways, true, false, []corev1.ContainerStatus{run, creating}, corev1.PodPending},
		{"all running", corev1.RestartPolicyAlways, true, false, []corev1.ContainerStatus{run, run}, corev1.PodRunning},
		{"crash loop", corev1.RestartPolicyAlways, true, false, []corev1.ContainerStatus{crashing}, corev1.PodRunning},
		{"Always restarts exits", corev1.RestartPolicyAlways, true, false, []corev1.ContainerStatus{ok}, corev1.PodRunning},
		{"Never, all ok", corev1.RestartPolicyNever, true, false, []corev1.ContainerStatus{ok, ok}, corev1.PodSucceeded},
		{"Never, one failed", corev1.RestartPolicyNever, true, false, []corev1.ContainerStatus{ok, bad}, corev1.PodFailed},
		{"Never, one still running", corev1.RestartPolicyNever, true, false, []corev1.ContainerStatus{bad, run}, corev1.PodRunning},
		{"OnFailure, ok", corev1.RestartPolicyOnFailure, true, false, []corev1.ContainerStatus{ok}, corev1.PodSucceeded},
		{"OnFailure, failed restarts", corev1.RestartPolicyOnFailure, true, false, []corev1.ContainerStatus{bad}, corev1.PodRunning},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := phase(c.policy, c.init, c.failed, c.cs, ""); got != c.want {
				t.Fatalf("phase = %s, want %s", got, c.want)
			}
		})
	}
}

// TestWatched: a running attempt is left unread only under a live waiter
// for that attempt and within fullObserve resyncs of its last read.
func TestWatched(t *testing.T) {
	now := time.Unix(1000, 0)
	resync := 10 * time.Second
	live, ended := make(chan struct{}), make(chan struct{})
	close(ended)
	running := runtime.ContainerStatus{State: runtime.StateRunning, Attempt: 2}
	for _, tc := range []struct {
		name string
		cs   ctrState
		want bool
	}{
		{"live waiter, read lately", ctrState{cur: running, present: true, waiter: 2, waitDone: live, readAt: now.Add(-resync)}, true},
		{"read too long ago", ctrState{cur: running, present: true, waiter: 2, waitDone: live, readAt: now.Add(-fullObserve * resync)}, false},
		{"waiter ended", ctrState{cur: running, present: true, waiter: 2, waitDone: ended, readAt: now}, false},
		{"waiter of an older attempt", ctrState{cur: running, present: true, waiter: 1, waitDone: live, readAt: now}, false},
		{"no waiter", ctrState{cur: running, present: true, waiter: -1, readAt: now}, false},
		{"exited", ctrState{cur: runtime.ContainerStatus{State: runtime.StateExited, Attempt: 2}, present: true, waiter: 2, waitDone: live, readAt: now}, false},
		{"absent", ctrState{waiter: 2, waitDone: live, readAt: now}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cs.watched(now, resync); got != tc.want {
				t.Fatalf("watched = %v, want %v", got, tc.want)
			}
		})
	}
}
