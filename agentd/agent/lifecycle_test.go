package agent_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/aggregates"
)

// TestRestartPoliciesAndOOM: Always restarts with a growing back-off
// (CrashLoopBackOff shown, --previous logs kept), Never fails with the
// exit code, a memory limit ends in OOMKilled.
func TestRestartPoliciesAndOOM(t *testing.T) {
	slow(t)
	c := startCluster(t)
	n := newNode(t, c)
	c.apply(t, "pod", podManifest("crash", `
restartPolicy: Always
containers:
- {name: c, image: `+image+`, command: ["sh", "-c", "echo attempt; exit 1"]}
`))
	c.apply(t, "pod", podManifest("once", `
restartPolicy: Never
containers:
- {name: c, image: `+image+`, command: ["sh", "-c", "exit 1"]}
`))
	c.apply(t, "pod", podManifest("hog", `
restartPolicy: Never
containers:
- name: c
  image: `+image+`
  command: ["sh", "-c", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"]
  resources: {limits: {memory: 32Mi}}
`))
	c.apply(t, "pod", podManifest("done", `
restartPolicy: OnFailure
containers:
- {name: c, image: `+image+`, command: ["true"]}
`))
	var sawBackOff bool
	var mu sync.Mutex
	c.waitPod(t, "crash", 60*time.Second, "restarted twice in CrashLoopBackOff", func(p *corev1.Pod) bool {
		cs := container(p, "c")
		if w := cs.State.Waiting; w != nil && w.Reason == agent.ReasonCrashLoopBackOff && cs.LastTerminationState.Terminated != nil {
			mu.Lock()
			sawBackOff = true
			mu.Unlock()
		}
		return sawBackOff && cs.RestartCount >= 2 && cs.LastTerminationState.Terminated.ExitCode == 1
	})
	if got := n.logs(t, c, agent.LogsRequest{Pod: "crash", Previous: true}); got != "attempt\n" {
		t.Fatalf("previous logs = %q", got)
	}
	p := c.waitPod(t, "once", 30*time.Second, "Failed", func(p *corev1.Pod) bool { return p != nil && p.Status.Phase == corev1.PodFailed })
	if term := container(p, "c").State.Terminated; term == nil || term.ExitCode != 1 || term.Reason != "Error" || container(p, "c").RestartCount != 0 {
		t.Fatalf("once: %+v", container(p, "c"))
	}
	p = c.waitPod(t, "hog", 60*time.Second, "Failed", func(p *corev1.Pod) bool { return p != nil && p.Status.Phase == corev1.PodFailed })
	if term := container(p, "c").State.Terminated; term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Fatalf("hog: %+v", container(p, "c"))
	}
	c.waitPod(t, "done", 30*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p != nil && p.Status.Phase == corev1.PodSucceeded })
	deleteAll(t, c, "crash", "once", "hog", "done")
	n.assertNoLeaks(t)
}

// TestProbes: a failing readiness probe keeps Ready false until it passes;
// a failing liveness probe restarts the container.
func TestProbes(t *testing.T) {
	slow(t)
	c := startCluster(t)
	n := newNode(t, c)
	c.apply(t, "pod", podManifest("probed", `
containers:
- name: slow
  image: `+image+`
  command: ["sh", "-c", "sleep 3; touch /tmp/ready; exec sleep 3600"]
  readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1}
- name: dying
  image: `+image+`
  command: ["sh", "-c", "touch /tmp/alive; sleep 2; rm /tmp/alive; exec sleep 3600"]
  livenessProbe: {exec: {command: [cat, /tmp/alive]}, periodSeconds: 1, failureThreshold: 2}
terminationGracePeriodSeconds: 1
`))
	c.waitPod(t, "probed", 30*time.Second, "running but not ready", func(p *corev1.Pod) bool {
		return running(p) && condition(p, corev1.PodReady) == corev1.ConditionFalse && container(p, "slow").State.Running != nil && !container(p, "slow").Ready
	})
	c.waitPod(t, "probed", 30*time.Second, "slow ready", func(p *corev1.Pod) bool { return container(p, "slow").Ready })
	p := c.waitPod(t, "probed", 60*time.Second, "dying restarted", func(p *corev1.Pod) bool {
		cs := container(p, "dying")
		return cs.RestartCount >= 1 && cs.State.Running != nil
	})
	if container(p, "slow").RestartCount != 0 {
		t.Fatalf("the ready container was restarted: %+v", container(p, "slow"))
	}
	deleteAll(t, c, "probed")
	n.assertNoLeaks(t)
}

// TestConfigMapSecretEnvAndInit: a configMap volume (refreshed when the
// object changes), env from a secret and the downward API, an init
// container writing to an emptyDir the app reads, follow-mode logs.
func TestConfigMapSecretEnvAndInit(t *testing.T) {
	slow(t)
	c := startCluster(t)
	n := newNode(t, c)
	c.apply(t, "configmap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {greeting: hello}\n")
	c.apply(t, "secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: sec}\nstringData: {password: s3cret}\n")
	c.apply(t, "pod", podManifest("files", `
volumes:
- {name: cfg, configMap: {name: cfg}}
- {name: work, emptyDir: {}}
initContainers:
- name: init
  image: `+image+`
  command: ["sh", "-c", "echo from-init > /work/seed"]
  volumeMounts: [{name: work, mountPath: /work}]
containers:
- name: app
  image: `+image+`
  command: ["sh", "-c", "cat /etc/cfg/greeting; echo; echo $PASSWORD $POD_NAME $(GREETING); cat /work/seed; grep nameserver /etc/resolv.conf; exec sleep 3600"]
  env:
  - {name: PASSWORD, valueFrom: {secretKeyRef: {name: sec, key: password}}}
  - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
  - {name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}
  volumeMounts:
  - {name: cfg, mountPath: /etc/cfg}
  - {name: work, mountPath: /work}
`))
	p := c.waitPod(t, "files", 60*time.Second, "running", running)
	if condition(p, corev1.PodInitialized) != corev1.ConditionTrue || container(p, "init").State.Terminated == nil {
		t.Fatalf("init: %+v", p.Status)
	}
	want := "hello\ns3cret files hello\nfrom-init\nnameserver 10.96.0.10\n"
	waitLog(t, n, c, "files", "app", want)

	c.apply(t, "configmap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {greeting: changed}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; ; i++ {
		var out strings.Builder
		code, err := agent.Exec(ctx, c.conn.NC, testNode, agent.ExecRequest{Namespace: "default", Pod: "files", Container: "app",
			Command: []string{"cat", "/etc/cfg/greeting"}}, nil, &out, &out)
		if err == nil && code == 0 && out.String() == "changed" {
			break
		}
		if i > 50 {
			t.Fatalf("configMap volume not refreshed: %q %d %v", out.String(), code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	c.apply(t, "pod", podManifest("counter", `
restartPolicy: Never
containers:
- {name: c, image: `+image+`, command: ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done"]}
`))
	c.waitPod(t, "counter", 30*time.Second, "started", func(p *corev1.Pod) bool { return container(p, "c").ContainerID != "" })
	if got := n.logs(t, c, agent.LogsRequest{Pod: "counter", Follow: true}); got != "line1\nline2\nline3\n" {
		t.Fatalf("followed %q", got)
	}
	if got := n.logs(t, c, agent.LogsRequest{Pod: "counter", Tail: 1}); got != "line3\n" {
		t.Fatalf("tail 1: %q", got)
	}
	deleteAll(t, c, "files", "counter")
	n.assertNoLeaks(t)
}

// TestGracefulDelete: SIGTERM first; a container that exits on it is gone
// well within the grace period, one that ignores it is killed after.
func TestGracefulDelete(t *testing.T) {
	slow(t)
	c := startCluster(t)
	n := newNode(t, c)
	for name, script := range map[string]string{
		"polite":   `trap 'echo got-term; exit 0' TERM; while true; do sleep 0.1; done`,
		"stubborn": `trap '' TERM; while true; do sleep 0.1; done`,
	} {
		c.apply(t, "pod", podManifest(name, `
terminationGracePeriodSeconds: 3
containers:
- {name: c, image: `+image+`, command: ["sh", "-c", "`+script+`"]}
`))
	}
	c.waitPod(t, "polite", 30*time.Second, "running", running)
	c.waitPod(t, "stubborn", 30*time.Second, "running", running)
	time.Sleep(300 * time.Millisecond) // let the shells set their traps
	took := map[string]time.Duration{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, name := range []string{"polite", "stubborn"} {
		start := time.Now()
		c.do(t, "pod", "delete", aggregates.Command{Name: name})
		p, _ := c.pod(name)
		if p != nil && p.DeletionTimestamp == nil {
			t.Fatalf("%s: no deletionTimestamp after delete", name)
		}
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			c.waitPod(t, name, 30*time.Second, "gone", gone)
			mu.Lock()
			took[name] = time.Since(start)
			mu.Unlock()
		}(name)
	}
	wg.Wait()
	if took["polite"] > 2*time.Second || took["stubborn"] < 3*time.Second || took["stubborn"] > 10*time.Second {
		t.Fatalf("deletion took %v; want polite < 2s, stubborn between 3s and 10s", took)
	}
	n.assertNoLeaks(t)
}

// TestAgentRestartAdoptsPods: an agent stopped abruptly and started again
// keeps its pods running (same IP, same container, no restart) and
// removes the pods deleted while it was down.
func TestAgentRestartAdoptsPods(t *testing.T) {
	slow(t)
	c := startCluster(t)
	n := newNode(t, c)
	for _, name := range []string{"keep", "drop"} {
		c.apply(t, "pod", podManifest(name, `
terminationGracePeriodSeconds: 1
containers:
- {name: c, image: `+image+`, command: ["sleep", "3600"]}
`))
	}
	before := c.waitPod(t, "keep", 30*time.Second, "running", running)
	c.waitPod(t, "drop", 30*time.Second, "running", running)
	n.stop(t)
	c.do(t, "pod", "delete", aggregates.Command{Name: "drop", GracePeriodSeconds: ptr(int64(0))})
	c.waitPod(t, "drop", 10*time.Second, "gone", gone)

	n.start(t, c)
	after, _ := c.pod("keep")
	if after.Status.PodIP != before.Status.PodIP || container(after, "c").ContainerID != container(before, "c").ContainerID ||
		container(after, "c").RestartCount != 0 || !container(after, "c").State.Running.StartedAt.Equal(&container(before, "c").State.Running.StartedAt) {
		t.Fatalf("adopted pod changed:\nbefore %+v\nafter  %+v", before.Status, after.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pods, err := n.rt.ListPods(ctx)
	if err != nil || len(pods) != 1 || pods[0].Name != "keep" || pods[0].IP != before.Status.PodIP {
		t.Fatalf("runtime pods after restart: %+v %v", pods, err)
	}
	if got := httpOrExec(t, c, "keep"); got != "alive" {
		t.Fatalf("exec after restart: %q", got)
	}
	deleteAll(t, c, "keep")
	n.assertNoLeaks(t)
}

func httpOrExec(t *testing.T, c *cluster, pod string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	if _, err := agent.Exec(ctx, c.conn.NC, testNode, agent.ExecRequest{Namespace: "default", Pod: pod, Command: []string{"echo", "-n", "alive"}}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func deleteAll(t *testing.T, c *cluster, names ...string) {
	t.Helper()
	for _, name := range names {
		c.do(t, "pod", "delete", aggregates.Command{Name: name, GracePeriodSeconds: ptr(int64(1))})
	}
	for _, name := range names {
		c.waitPod(t, name, 30*time.Second, "gone", gone)
	}
}
