package agent_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

func running(p *corev1.Pod) bool { return p != nil && p.Status.Phase == corev1.PodRunning }

func ready(p *corev1.Pod) bool {
	return running(p) && condition(p, corev1.PodReady) == corev1.ConditionTrue
}

func gone(p *corev1.Pod) bool { return p == nil }

// TestPodNetworkLogsExecAndMetrics: two containers share localhost; the
// pod's IP is in the node CIDR, is in its /etc/hosts and answers from the
// node; the node is registered and leased; logs, exec and metrics work
// over NATS.
func TestPodNetworkLogsExecAndMetrics(t *testing.T) {
	slow(t)
	c := startCluster(t)
	metrics, err := c.conn.NC.SubscribeSync(bus.MetricsSubject(testNode))
	if err != nil {
		t.Fatal(err)
	}
	n := newNode(t, c)
	c.apply(t, "pod", podManifest("web", `
containers:
- name: web
  image: `+image+`
  command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
  ports: [{containerPort: 8080, name: http}]
  readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
- name: sidecar
  image: `+image+`
  command: ["sh", "-c", "for i in $(seq 1 50); do wget -qO- http://localhost:8080/ && break; sleep 0.2; done; echo sidecar-done; exec sleep 3600"]
`))
	p := c.waitPod(t, "web", 60*time.Second, "ready", ready)
	_, cidr, _ := net.ParseCIDR(testCIDR)
	if ip := net.ParseIP(p.Status.PodIP); ip == nil || !cidr.Contains(ip) {
		t.Fatalf("pod IP %q not in %s", p.Status.PodIP, testCIDR)
	}
	if p.Status.HostIP == "" || p.Status.StartTime == nil || container(p, "web").State.Running == nil {
		t.Fatalf("status lacks hostIP, startTime or running state: %+v", p.Status)
	}
	if got := httpGet(t, "http://"+p.Status.PodIP+":8080/"); !strings.Contains(got, "hello-from-web") {
		t.Fatalf("pod IP answered %q", got)
	}
	waitLog(t, n, c, "web", "sidecar", "hello-from-web\nsidecar-done")

	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := agent.Exec(ctx, c.conn.NC, testNode, agent.ExecRequest{Namespace: "default", Pod: "web", Container: "sidecar",
		Command: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}}, nil, &out, &errOut)
	if err != nil || code != 3 || out.String() != "out\n" || errOut.String() != "err\n" {
		t.Fatalf("exec = %d %q %q %v", code, out.String(), errOut.String(), err)
	}
	out.Reset()
	code, err = agent.Exec(ctx, c.conn.NC, testNode, agent.ExecRequest{Namespace: "default", Pod: "web", Container: "web",
		Command: []string{"cat"}, Stdin: true}, strings.NewReader("piped"), &out, &errOut)
	if err != nil || code != 0 || out.String() != "piped" {
		t.Fatalf("exec with stdin = %d %q %v", code, out.String(), err)
	}
	out.Reset()
	code, err = agent.Exec(ctx, c.conn.NC, testNode, agent.ExecRequest{Namespace: "default", Pod: "web", Container: "web",
		Command: []string{"cat", "/etc/hosts"}}, nil, &out, &errOut)
	if err != nil || code != 0 || !strings.Contains(out.String(), p.Status.PodIP+"\tweb\n") {
		t.Fatalf("/etc/hosts lacks the pod's IP and name: %d %q %v", code, out.String(), err)
	}
	if _, err := agent.Exec(ctx, c.conn.NC, testNode, agent.ExecRequest{Namespace: "default", Pod: "nope", Command: []string{"true"}}, nil, &out, &errOut); err == nil {
		t.Fatal("exec in a missing pod succeeded")
	}
	checkPortForward(ctx, t, c)
	checkTarInContainer(ctx, t, c)

	checkNodeAndLease(t, c)
	checkMetrics(t, metrics, "web")

	c.do(t, "pod", "delete", aggregates.Command{Name: "web", GracePeriodSeconds: ptr(int64(1))})
	c.waitPod(t, "web", 30*time.Second, "gone", gone)
	n.assertNoLeaks(t)
}

// checkPortForward: an HTTP request through a forwarded connection reaches
// the pod's server and its answer comes back, the pod closing the
// connection ends the forward; a port nothing listens on is refused.
func checkPortForward(ctx context.Context, t *testing.T, c *cluster) {
	t.Helper()
	local, remote := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- agent.PortForward(ctx, c.conn.NC, testNode, agent.PortForwardRequest{Namespace: "default", Pod: "web", Port: 8080}, remote)
		remote.Close()
	}()
	if _, err := io.WriteString(local, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(local)
	if err := <-done; err != nil || !strings.HasPrefix(string(got), "HTTP/1.") || !strings.Contains(string(got), "hello-from-web") {
		t.Fatalf("port forward: %v, answer %q", err, got)
	}
	err := agent.PortForward(ctx, c.conn.NC, testNode, agent.PortForwardRequest{Namespace: "default", Pod: "web", Port: 9}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("port forward to a closed port: %v", err)
	}
}

// checkTarInContainer: the container's tar writes and reads the archives
// `gantry cp` makes and unpacks (cf - -C DIR BASE; xf - -C DIR).
func checkTarInContainer(ctx context.Context, t *testing.T, c *cluster) {
	t.Helper()
	var out, errOut bytes.Buffer
	code, err := agent.Exec(ctx, c.conn.NC, testNode, agent.ExecRequest{Namespace: "default", Pod: "web", Container: "web",
		Command: []string{"tar", "cf", "-", "-C", "/www", "index.html"}}, nil, &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("tar cf: %d %v %s", code, err, errOut.String())
	}
	tr := tar.NewReader(&out)
	h, err := tr.Next()
	if err != nil || h.Name != "index.html" {
		t.Fatalf("the container's archive: %v %+v", err, h)
	}
	if b, _ := io.ReadAll(tr); string(b) != "hello-from-web\n" {
		t.Fatalf("index.html in the archive: %q", b)
	}

	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	_ = tw.WriteHeader(&tar.Header{Name: "up/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "up/f.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
	_, _ = tw.Write([]byte("hello"))
	_ = tw.Close()
	out.Reset()
	code, err = agent.Exec(ctx, c.conn.NC, testNode, agent.ExecRequest{Namespace: "default", Pod: "web", Container: "web",
		Command: []string{"sh", "-c", "tar xf - -C /tmp && cat /tmp/up/f.txt"}, Stdin: true}, &in, &out, &errOut)
	if err != nil || code != 0 || out.String() != "hello" {
		t.Fatalf("tar xf: %d %v %q %s", code, err, out.String(), errOut.String())
	}
}

func checkNodeAndLease(t *testing.T, c *cluster) {
	t.Helper()
	e, ok := c.view.Get("node", "", testNode)
	if !ok {
		t.Fatal("node not registered")
	}
	var node corev1.Node
	_ = json.Unmarshal(e.Raw, &node)
	if node.Labels["kubernetes.io/hostname"] != testNode || node.Labels["zone"] != "test" || node.Spec.PodCIDR != testCIDR {
		t.Fatalf("node labels/podCIDR: %v %q", node.Labels, node.Spec.PodCIDR)
	}
	if node.Status.Capacity.Cpu().IsZero() || node.Status.Capacity.Memory().IsZero() || node.Status.Allocatable.Pods().Value() != 110 {
		t.Fatalf("node capacity: %v allocatable %v", node.Status.Capacity, node.Status.Allocatable)
	}
	if len(node.Status.Conditions) == 0 || node.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("node conditions: %+v", node.Status.Conditions)
	}
	kv, err := c.conn.JS.KeyValue(context.Background(), bus.LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	v, err := kv.Get(context.Background(), bus.LeaseKey(testNode))
	if err != nil {
		t.Fatal(err)
	}
	var lease bus.NodeLease
	if json.Unmarshal(v.Value(), &lease) != nil || time.Since(lease.RenewTime) > 5*time.Second {
		t.Fatalf("lease %s", v.Value())
	}
}

func checkMetrics(t *testing.T, sub *nats.Subscription, pod string) {
	t.Helper()
	for i := 0; i < 20; i++ {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no metrics: %v", err)
		}
		var u agent.NodeUsage
		if err := json.Unmarshal(m.Data, &u); err != nil {
			t.Fatal(err)
		}
		for _, p := range u.Pods {
			if p.Name == pod && len(p.Containers) == 2 && p.Containers[0].MemoryBytes > 0 && p.Containers[0].CPUNanos > 0 {
				return
			}
		}
	}
	t.Fatal("metrics never showed the pod's containers with usage")
}

func waitLog(t *testing.T, n *node, c *cluster, pod, ctr, want string) {
	t.Helper()
	var got string
	for i := 0; i < 100; i++ {
		got = n.logs(t, c, agent.LogsRequest{Pod: pod, Container: ctr})
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s/%s log never contained %q: %q", pod, ctr, want, got)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	cl := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for i := 0; i < 20; i++ {
		resp, err := cl.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return ""
}

func ptr[T any](v T) *T { return &v }
