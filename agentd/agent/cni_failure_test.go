package agent_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/agentd/cni"
	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/aggregates"
)

// TestPodNetworkFailure: when CNI ADD fails — host-local has no address
// left in the node's range — the pod stays Pending (its container waiting
// in ContainerCreating) with status.reason FailedCreatePodSandBox, a
// PodReadyToStartContainers=False condition and a message naming the
// network failure; the agent retries with a doubling back-off; each
// failed attempt leaves nothing behind (netns, containers, tasks, pod
// files, IP reservation, veth); once the fault is gone (the pod holding
// the only address is deleted) the pod comes up.
func TestPodNetworkFailure(t *testing.T) {
	slow(t)
	// A /30: .1 is the bridge's (the gateway), .2 is the only pod address.
	const bridge, cidr, onlyIP = "gantrye3", "10.244.93.0/30", "10.244.93.2"
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", bridge).Run() })
	c := startCluster(t)
	n := prepareNetNode(t, fmt.Sprintf("gantry-e2e-net-%d", os.Getpid()), cni.Config{Name: "gantry-e2e-full", Bridge: bridge, Subnet: cidr})
	rt := &sandboxAttempts{Containerd: n.rt, failed: map[string][]attempt{}}
	n.startWith(t, c, rt)

	c.apply(t, "pod", podManifest("first", `
containers:
- {name: c, image: `+image+`, command: ["sleep", "3600"]}
`))
	if p := c.waitPod(t, "first", 60*time.Second, "running", running); p.Status.PodIP != onlyIP {
		t.Fatalf("first pod IP %q, want %s", p.Status.PodIP, onlyIP)
	}
	rt.watch("second", func(uid string) []string { return n.leaksOf(uid, onlyIP, 1) })
	c.apply(t, "pod", podManifest("second", `
terminationGracePeriodSeconds: 1
containers:
- {name: c, image: `+image+`, command: ["sleep", "3600"]}
`))

	neverRunning := func(p *corev1.Pod) {
		if p != nil && (p.Status.Phase != "" && p.Status.Phase != corev1.PodPending || p.Status.PodIP != "" || container(p, "c").State.Running != nil) {
			t.Fatalf("pod without a network reported %s, IP %q, container %+v", p.Status.Phase, p.Status.PodIP, container(p, "c").State)
		}
	}
	p := c.waitPod(t, "second", 30*time.Second, "reported as failing its network setup", func(p *corev1.Pod) bool {
		neverRunning(p)
		return p != nil && p.Status.Reason == agent.ReasonFailedCreatePodSandBox
	})
	if msg := p.Status.Message; !strings.Contains(msg, "network") || !strings.Contains(msg, "no IP addresses available") {
		t.Errorf("status message %q does not say the network setup failed and why", msg)
	}
	if cnd := podCondition(p, corev1.PodReadyToStartContainers); cnd.Status != corev1.ConditionFalse ||
		cnd.Reason != agent.ReasonFailedCreatePodSandBox || cnd.Message != p.Status.Message {
		t.Errorf("condition %s = %+v, want False with the failure", corev1.PodReadyToStartContainers, cnd)
	}
	if w := container(p, "c").State.Waiting; w == nil || w.Reason != agent.ReasonContainerCreating {
		t.Errorf("container state %+v, want waiting in %s", container(p, "c").State, agent.ReasonContainerCreating)
	}
	if condition(p, corev1.PodReady) != corev1.ConditionFalse {
		t.Errorf("pod Ready %q", condition(p, corev1.PodReady))
	}

	// Retries, each later than the one before: Base, 2×Base, 4×Base…
	// (measured from the end of one attempt to the start of the next).
	const retries = 4
	attempts := rt.waitFailures(t, "second", retries, 30*time.Second)
	delay := time.Duration(0)
	for i := 1; i < len(attempts); i++ {
		delay = n.cfg.Backoff.Next(delay, 0)
		if gap := attempts[i].start.Sub(attempts[i-1].end); gap < delay {
			t.Errorf("retry %d came %s after the failure before it, want a back-off of at least %s", i, gap, delay)
		}
	}
	for _, a := range attempts {
		if !strings.Contains(a.err, "no IP addresses available") {
			t.Errorf("attempt failed with %q, want host-local's exhaustion", a.err)
		}
		for _, leak := range a.leaks {
			t.Errorf("after a failed attempt: %s", leak)
		}
	}
	if p, _ := c.pod("second"); p != nil {
		neverRunning(p)
	}
	waitBridgePorts(t, bridge, 1) // the failed attempts' veths are gone

	// Remove the fault: the address comes free and the retry succeeds.
	c.do(t, "pod", "delete", aggregates.Command{Name: "first", GracePeriodSeconds: ptr(int64(1))})
	c.waitPod(t, "first", 30*time.Second, "gone", gone)
	p = c.waitPod(t, "second", 30*time.Second, "running", running)
	if p.Status.PodIP != onlyIP || p.Status.Reason != "" || p.Status.Message != "" ||
		condition(p, corev1.PodReadyToStartContainers) != corev1.ConditionTrue {
		t.Errorf("recovered pod: IP %q, reason %q, message %q, conditions %+v",
			p.Status.PodIP, p.Status.Reason, p.Status.Message, p.Status.Conditions)
	}
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := agent.Exec(ctx, c.conn.NC, testNode, agent.ExecRequest{Namespace: "default", Pod: "second",
		Command: []string{"ip", "-4", "-o", "addr", "show", "eth0"}}, nil, &out, &out)
	if err != nil || code != 0 || !strings.Contains(out.String(), onlyIP+"/30") {
		t.Errorf("eth0 in the recovered pod: %d %v %q", code, err, out.String())
	}

	c.do(t, "pod", "delete", aggregates.Command{Name: "second", GracePeriodSeconds: ptr(int64(1))})
	c.waitPod(t, "second", 30*time.Second, "gone", gone)
	n.assertNoLeaks(t)
	waitBridgePorts(t, bridge, 0)
}

// leaksOf lists what a pod whose sandbox failed left on the node, which
// otherwise holds keep pods and the single address ip.
func (n *node) leaksOf(uid, ip string, keep int) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nctx := namespaced(ctx, n.ns)
	var leaks []string
	if entries, _ := os.ReadDir(filepath.Join(n.dir, "netns")); len(entries) != keep {
		leaks = append(leaks, fmt.Sprintf("%d netns, want %d", len(entries), keep))
	}
	if _, err := os.Stat(filepath.Join(n.dir, "agent", "pods", uid)); !errors.Is(err, os.ErrNotExist) {
		leaks = append(leaks, "pod directory left")
	}
	if ips, err := n.net.AllocatedIPs(); err != nil || len(ips) != 1 || ips[0] != ip {
		leaks = append(leaks, fmt.Sprintf("IP reservations %v (%v), want only %s", ips, err, ip))
	}
	cs, err := daemon.Client.Containers(nctx, fmt.Sprintf("labels.%q==%q", "gantry.dev/pod-uid", uid))
	if err != nil || len(cs) != 0 {
		leaks = append(leaks, fmt.Sprintf("%d containers (%v)", len(cs), err))
	}
	tasks, err := daemon.Client.TaskService().List(nctx, nil)
	if err != nil || len(tasks.Tasks) != keep {
		leaks = append(leaks, fmt.Sprintf("tasks %v (%v), want %d", tasks, err, keep))
	}
	return leaks
}

// attempt is one failed RunPod.
type attempt struct {
	start, end time.Time
	err        string
	leaks      []string
}

// sandboxAttempts is the real runtime, recording the pods' failed sandbox
// attempts and checking for leaks right after each (on the pod's worker,
// before it can try again).
type sandboxAttempts struct {
	*runtime.Containerd
	mu     sync.Mutex
	checks map[string]func(uid string) []string
	failed map[string][]attempt
}

func (r *sandboxAttempts) watch(pod string, leaks func(uid string) []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checks == nil {
		r.checks = map[string]func(uid string) []string{}
	}
	r.checks[pod] = leaks
}

func (r *sandboxAttempts) RunPod(ctx context.Context, pod runtime.PodSpec, start ...runtime.ContainerSpec) (runtime.PodInfo, error) {
	a := attempt{start: time.Now()}
	info, err := r.Containerd.RunPod(ctx, pod, start...)
	if err == nil {
		return info, nil
	}
	a.err = err.Error()
	r.mu.Lock()
	check := r.checks[pod.Name]
	r.mu.Unlock()
	if check != nil {
		a.leaks = check(pod.UID)
	}
	a.end = time.Now() // the worker's back-off starts when RunPod returns
	r.mu.Lock()
	r.failed[pod.Name] = append(r.failed[pod.Name], a)
	r.mu.Unlock()
	return info, err
}

// waitFailures waits for the pod's first n failed attempts.
func (r *sandboxAttempts) waitFailures(t *testing.T, pod string, n int, timeout time.Duration) []attempt {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		got := append([]attempt(nil), r.failed[pod]...)
		r.mu.Unlock()
		if len(got) >= n {
			return got[:n]
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: %d failed sandbox attempts within %s, want %d", pod, len(got), timeout, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitBridgePorts waits until the bridge has want ports (veths are
// removed with their netns, asynchronously).
func waitBridgePorts(t *testing.T, bridge string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).Output()
		got := strings.Count(string(out), "\n")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge %s has %d ports, want %d:\n%s", bridge, got, want, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func podCondition(p *corev1.Pod, ct corev1.PodConditionType) corev1.PodCondition {
	for _, c := range p.Status.Conditions {
		if c.Type == ct {
			return c
		}
	}
	return corev1.PodCondition{}
}
