package nete2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gantry-sh/gantry/agentd/agent"
)

func namespaced(ctx context.Context, ns string) context.Context {
	return namespaces.WithNamespace(ctx, ns)
}

// webDeployment serves, on port 8080 (named http), /name holding the pod
// name and /ready for the readiness probe. httpd runs as PID 1 and
// ignores SIGTERM, so a deleted pod keeps serving through its grace
// period, as a server with a drain delay would.
func webDeployment(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      nodeName: %[3]s
      terminationGracePeriodSeconds: 3
      containers:
      - name: web
        image: %[4]s
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/name && echo ok > /www/ready && exec httpd -f -p 8080 -h /www"]
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1, failureThreshold: 1}
`, name, replicas, nodeName, image)
}

// clientPod idles so tests can exec request loops in it.
func clientPod(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: %s
    command: ["sleep", "3600"]
`, name, nodeName, image)
}

// pods returns the live pods labelled app=app, by name.
func (e *env) pods(app string) map[string]*corev1.Pod {
	out := map[string]*corev1.Pod{}
	for _, en := range e.c.View.List("pod", e.ns) {
		var p corev1.Pod
		if json.Unmarshal(en.Raw, &p) == nil && p.Labels["app"] == app && p.DeletionTimestamp == nil {
			out[p.Name] = &p
		}
	}
	return out
}

func (e *env) pod(name string) *corev1.Pod {
	en, ok := e.c.View.Get("pod", e.ns, name)
	if !ok {
		return nil
	}
	var p corev1.Pod
	_ = json.Unmarshal(en.Raw, &p)
	return &p
}

func isReady(p *corev1.Pod) bool {
	if p == nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitReady waits until n live pods labelled app are ready and returns
// them.
func (e *env) waitReady(app string, n int, timeout time.Duration) map[string]*corev1.Pod {
	e.t.Helper()
	var got map[string]*corev1.Pod
	e.waitFor(timeout, fmt.Sprintf("%d ready pods app=%s", n, app), func() bool {
		got = e.pods(app)
		ready := 0
		for _, p := range got {
			if isReady(p) {
				ready++
			}
		}
		return len(got) == n && ready == n
	})
	return got
}

func (e *env) waitPodReady(name string, timeout time.Duration) *corev1.Pod {
	e.t.Helper()
	e.waitFor(timeout, "pod "+name+" ready", func() bool { return isReady(e.pod(name)) })
	return e.pod(name)
}

// endpoints returns the addresses the slices of service svc list, with
// their ready condition.
func (e *env) endpoints(svc string) map[string]bool {
	out := map[string]bool{}
	for _, en := range e.c.View.List("endpointslice", e.ns) {
		var es discoveryv1.EndpointSlice
		if json.Unmarshal(en.Raw, &es) != nil || es.Labels[discoveryv1.LabelServiceName] != svc {
			continue
		}
		for _, ep := range es.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			for _, a := range ep.Addresses {
				out[a] = ready
			}
		}
	}
	return out
}

// readyEndpoints lists the ready addresses of svc, sorted.
func (e *env) readyEndpoints(svc string) []string {
	var out []string
	for a, ok := range e.endpoints(svc) {
		if ok {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// exec runs a shell script in a pod's container and returns its exit code.
func (e *env) exec(ctx context.Context, pod, container, script string, stdout *lineLog) (int, error) {
	var errOut bytes.Buffer
	code, err := agent.Exec(ctx, e.c.Conn.NC, nodeName, agent.ExecRequest{Namespace: e.ns, Pod: pod, Container: container,
		Command: []string{"sh", "-c", script}}, nil, stdout, &errOut)
	if err != nil {
		return code, fmt.Errorf("exec in %s: %w (stderr %q)", pod, err, errOut.String())
	}
	return code, nil
}

// mustExec runs a short script and returns its output.
func (e *env) mustExec(pod, container, script string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out lineLog
	code, err := e.exec(ctx, pod, container, script, &out)
	if err != nil || code != 0 {
		e.t.Fatalf("exec %q in %s: code %d, %v, output %q", script, pod, code, err, out.text())
	}
	return out.text()
}

// requestLoop is a shell loop that GETs url at most n times, one line per
// request ("ok <body>" or "fail"), until the file /tmp/stop-<tag> exists.
// Each wget is bounded by timeout(1).
func requestLoop(url string, n int, tag string) string {
	return fmt.Sprintf(`rm -f /tmp/stop-%[3]s; i=0
while [ $i -lt %[2]d ] && [ ! -e /tmp/stop-%[3]s ]; do
  i=$((i+1))
  if r=$(timeout 5 wget -qO- %[1]s 2>/dev/null); then echo "ok $r"; else echo fail; fi
done
echo done`, url, n, tag)
}

// line is one line of output and when the test received it.
type line struct {
	at   time.Time
	text string
}

// lineLog timestamps each line written to it as it arrives.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []line
	onLine  func(line)
}

func (l *lineLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	l.partial = append(l.partial, p...)
	var fresh []line
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		ln := line{at: now, text: string(l.partial[:i])}
		l.lines = append(l.lines, ln)
		fresh = append(fresh, ln)
		l.partial = l.partial[i+1:]
	}
	fn := l.onLine
	l.mu.Unlock()
	if fn != nil {
		for _, ln := range fresh {
			fn(ln)
		}
	}
	return len(p), nil
}

func (l *lineLog) snapshot() []line {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]line(nil), l.lines...)
}

func (l *lineLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ln := range l.lines {
		b.WriteString(ln.text + "\n")
	}
	b.Write(l.partial)
	return b.String()
}

// tally counts "ok <name>" lines by name and "fail" lines as "fail".
func tally(lines []line) map[string]int {
	out := map[string]int{}
	for _, ln := range lines {
		switch {
		case strings.HasPrefix(ln.text, "ok "):
			out[strings.TrimPrefix(ln.text, "ok ")]++
		case ln.text == "fail":
			out["fail"]++
		}
	}
	return out
}

// maxGap is the longest wait between consecutive lines, and when it ended.
func maxGap(lines []line) (time.Duration, time.Time) {
	var gap time.Duration
	var at time.Time
	for i := 1; i < len(lines); i++ {
		if d := lines[i].at.Sub(lines[i-1].at); d > gap {
			gap, at = d, lines[i].at
		}
	}
	return gap, at
}

// loop is a request loop running in the background in a client pod.
type loop struct {
	e      *env
	pod    string
	tag    string
	out    lineLog
	done   chan error
	cancel context.CancelFunc
}

// startLoop runs requestLoop in pod, bounded by n requests and timeout.
// onLine, if set, sees every line as it arrives.
func (e *env) startLoop(pod, url string, n int, timeout time.Duration, tag string, onLine func(line)) *loop {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	l := &loop{e: e, pod: pod, tag: tag, done: make(chan error, 1), cancel: cancel}
	l.out.onLine = onLine
	go func() {
		code, err := e.exec(ctx, pod, "client", requestLoop(url, n, tag), &l.out)
		if err == nil && code != 0 {
			err = fmt.Errorf("loop exited with %d", code)
		}
		l.done <- err
	}()
	e.t.Cleanup(l.stop)
	return l
}

// stop asks the loop to end and waits for it (bounded).
func (l *loop) stop() {
	if l.cancel == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out lineLog
	_, _ = l.e.exec(ctx, l.pod, "client", "touch /tmp/stop-"+l.tag, &out)
	select {
	case err := <-l.done:
		if err != nil {
			l.e.t.Errorf("request loop in %s: %v", l.pod, err)
		}
	case <-time.After(15 * time.Second):
		l.e.t.Errorf("request loop in %s did not stop", l.pod)
	}
	l.cancel()
	l.cancel = nil
}

// inNetNS runs f on an OS thread switched into the network namespace at
// path; sockets f creates stay there. The thread is switched back, or
// dies with its goroutine if that fails.
func inNetNS(path string, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err, restored := switchAndRun(path, f)
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func switchAndRun(path string, f func()) (error, bool) {
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return err, true
	}
	defer orig.Close()
	target, err := os.Open(path)
	if err != nil {
		return err, true
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return err, true
	}
	f()
	return nil, unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil
}

// dialFromPod opens a TCP connection from inside pod's network namespace.
func (e *env) dialFromPod(pod *corev1.Pod, addr string) (net.Conn, error) {
	var c net.Conn
	var dialErr error
	err := inNetNS(e.net.NetnsPath(string(pod.UID)), func() {
		c, dialErr = net.DialTimeout("tcp", addr, 2*time.Second)
	})
	if err != nil {
		return nil, err
	}
	return c, dialErr
}
