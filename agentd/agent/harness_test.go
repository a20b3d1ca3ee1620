package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/nats-io/nats-server/v2/server"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/agentd/cni"
	agentcd "github.com/gantry-sh/gantry/agentd/containerd"
	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/agentd/testimage"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// The shared real containerd and image; nil under -short.
var (
	daemon *agentcd.Daemon
	image  string
	tmp    string
)

const (
	testBridge = "gantrye0"
	testCIDR   = "10.244.91.0/24"
	testNode   = "node-e2e"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(runChild()) // this binary started again as a lone agent (child_test.go)
	}
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(runWithContainerd(m))
}

func runWithContainerd(m *testing.M) int {
	var err error
	if tmp, err = os.MkdirTemp("", "gantry-agent-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if daemon, err = agentcd.Ensure(ctx, agentcd.Options{DataDir: filepath.Join(tmp, "containerd")}); err != nil {
		fmt.Fprintln(os.Stderr, "agent e2e: containerd:", err)
		return 1
	}
	defer daemon.Close()
	ref, stop, err := testimage.ServeBusybox()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent e2e: registry:", err)
		return 1
	}
	defer stop()
	image = ref
	defer exec.Command("ip", "link", "del", testBridge).Run()
	return m.Run()
}

func slow(t testing.TB) {
	t.Helper()
	if testing.Short() || daemon == nil {
		t.Skip("needs containerd, runc and CNI plugins (skipped with -short)")
	}
}

// cluster is an in-process control plane on an embedded JetStream, with
// a wake-up on every change the projection folds.
type cluster struct {
	plane   *projtest.Cluster
	ns      *server.Server
	conn    *bus.Conn
	client  *bus.Client
	view    *projections.View
	changed chan struct{}
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	pc := projtest.Start(t, projtest.Options{})
	c := &cluster{plane: pc, ns: pc.Server, conn: pc.Conn, client: pc.Client, view: pc.View, changed: make(chan struct{}, 1)}
	c.view.OnChange(func(projections.Change) {
		select {
		case c.changed <- struct{}{}:
		default:
		}
	})
	return c
}

// do sends a command (namespace default unless a node) and waits until the
// view has folded it.
func (c *cluster) do(t testing.TB, kind, verb string, cmd aggregates.Command) bus.Reply {
	t.Helper()
	if cmd.Namespace == "" && kind != "node" {
		cmd.Namespace = "default"
	}
	r, err := c.plane.Do(kind, verb, cmd)
	if err != nil {
		t.Fatalf("%s %s %s: %v", verb, kind, cmd.Name, err)
	}
	return r
}

// apply sends a YAML manifest (namespace default).
func (c *cluster) apply(t testing.TB, kind, manifest string) {
	t.Helper()
	obj, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	_ = json.Unmarshal(obj, &meta)
	c.do(t, kind, "apply", aggregates.Command{Name: meta.Metadata.Name, Object: obj})
}

// create sends a pod manifest's create command (namespace default); unlike
// apply it may be called from any goroutine.
func (c *cluster) create(manifest string) error {
	obj, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		return err
	}
	var meta struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	_ = json.Unmarshal(obj, &meta)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = c.client.Do(ctx, "pod", aggregates.VerbCreate, aggregates.Command{Namespace: "default", Name: meta.Metadata.Name, Object: obj}, bus.CommandMeta{})
	if err != nil {
		return fmt.Errorf("create pod %s: %w", meta.Metadata.Name, err)
	}
	return nil
}

func (c *cluster) pod(name string) (*corev1.Pod, bool) {
	e, ok := c.view.Get("pod", "default", name)
	if !ok {
		return nil, false
	}
	p := &corev1.Pod{}
	_ = json.Unmarshal(e.Raw, p)
	return p, true
}

// waitPod waits, woken by every change the projection folds, until cond
// holds for the pod (nil when it is gone).
func (c *cluster) waitPod(t testing.TB, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p, _ := c.pod(name)
		if cond(p) {
			return p
		}
		select {
		case <-c.changed:
		case <-time.After(200 * time.Millisecond): // the other waiters may have taken the wake-up
		case <-deadline.C:
			b, _ := json.MarshalIndent(p, "", " ")
			t.Fatalf("pod %s: not %s within %s; last seen:\n%s", name, what, timeout, b)
		}
	}
}

// node is one agent on the shared containerd.
type node struct {
	rt     *runtime.Containerd
	net    *cni.Network
	cfg    agent.Config
	dir    string
	ns     string
	cancel context.CancelFunc
	done   chan error
	agent  *agent.Agent
}

func newNode(t testing.TB, c *cluster) *node {
	t.Helper()
	n := prepareNode(t)
	n.start(t, c)
	return n
}

// prepareNode sets up a node's network and runtime (and removes what its
// pods leave at cleanup) without starting an agent.
func prepareNode(t testing.TB) *node {
	t.Helper()
	return prepareNetNode(t, fmt.Sprintf("gantry-e2e-%d", os.Getpid()), cni.Config{Name: "gantry-e2e", Bridge: testBridge, Subnet: testCIDR})
}

// prepareNetNode is prepareNode on the pod network netCfg, in containerd
// namespace ns.
func prepareNetNode(t testing.TB, ns string, netCfg cni.Config) *node {
	t.Helper()
	n := &node{dir: t.TempDir(), ns: ns}
	netCfg.DataDir, netCfg.NetnsDir = filepath.Join(n.dir, "cni"), filepath.Join(n.dir, "netns")
	var err error
	if n.net, err = cni.New(netCfg); err != nil {
		t.Fatal(err)
	}
	if n.rt, err = runtime.New(runtime.Options{Client: daemon.Client, Namespace: n.ns, DataDir: filepath.Join(n.dir, "agent"), Network: n.net}); err != nil {
		t.Fatal(err)
	}
	n.cfg = agent.Config{
		NodeName: testNode, PodCIDR: netCfg.Subnet, Labels: map[string]string{"zone": "test"},
		ClusterDNS:    []string{"10.96.0.10"},
		LeaseInterval: 500 * time.Millisecond, MetricsInterval: 500 * time.Millisecond, ResyncInterval: time.Second,
		Backoff: agent.Backoff{Base: 300 * time.Millisecond, Max: 2 * time.Second},
		Log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	t.Cleanup(func() { n.cleanup(t) })
	return n
}

func (n *node) start(t testing.TB, c *cluster) { n.startWith(t, c, n.rt) }

// startWith is start with the agent on rt (n.rt, or a wrapper of it).
func (n *node) startWith(t testing.TB, c *cluster, rt agent.Runtime) {
	t.Helper()
	a, err := agent.New(c.conn, rt, n.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.agent, n.cancel, n.done = a, cancel, make(chan error, 1)
	go func() { n.done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-n.done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("agent not ready within 30s")
	}
}

// stop ends the agent abruptly: its pods keep running.
func (n *node) stop(t testing.TB) {
	t.Helper()
	if n.cancel == nil {
		return
	}
	n.cancel()
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("agent: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("agent did not stop within 30s")
	}
	n.cancel = nil
}

// cleanup removes whatever the test left: pods, images, the namespace.
func (n *node) cleanup(t testing.TB) {
	n.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods, _ := n.rt.ListPods(ctx)
	for _, p := range pods {
		if err := n.rt.RemovePod(ctx, p.UID); err != nil {
			t.Errorf("cleanup pod %s: %v", p.UID, err)
		}
	}
	nctx := namespaced(ctx, n.ns)
	imgs, _ := daemon.Client.ImageService().List(nctx)
	for _, img := range imgs {
		_ = daemon.Client.ImageService().Delete(nctx, img.Name)
	}
	_ = daemon.Client.NamespaceService().Delete(ctx, n.ns)
	_ = os.Remove(filepath.Join("/run/containerd/runc", n.ns))
}

// assertNoLeaks checks nothing of any pod is left on the node.
func (n *node) assertNoLeaks(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if pods, err := n.rt.ListPods(ctx); err != nil || len(pods) != 0 {
		t.Errorf("pods left: %+v %v", pods, err)
	}
	cs, err := daemon.Client.Containers(namespaced(ctx, n.ns))
	if err != nil || len(cs) != 0 {
		t.Errorf("containers left: %d %v", len(cs), err)
	}
	if entries, _ := os.ReadDir(filepath.Join(n.dir, "netns")); len(entries) != 0 {
		t.Errorf("netns left: %d", len(entries))
	}
	if ips, _ := n.net.AllocatedIPs(); len(ips) != 0 {
		t.Errorf("IPs left: %v", ips)
	}
}

func (n *node) logs(t testing.TB, c *cluster, req agent.LogsRequest) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req.Namespace = "default"
	var b bytes.Buffer
	if err := agent.Logs(ctx, c.conn.NC, testNode, req, &b); err != nil {
		t.Fatalf("logs %s/%s: %v", req.Pod, req.Container, err)
	}
	return b.String()
}

func podManifest(name, spec string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  nodeName: " + testNode + "\n" + indent(spec, "  ")
}

func indent(s, pre string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pre + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

func container(c *corev1.Pod, name string) corev1.ContainerStatus {
	if c == nil {
		return corev1.ContainerStatus{}
	}
	for _, s := range append(c.Status.InitContainerStatuses, c.Status.ContainerStatuses...) {
		if s.Name == name {
			return s
		}
	}
	return corev1.ContainerStatus{}
}

func condition(p *corev1.Pod, ct corev1.PodConditionType) corev1.ConditionStatus {
	if p == nil {
		return ""
	}
	for _, c := range p.Status.Conditions {
		if c.Type == ct {
			return c.Status
		}
	}
	return ""
}

func namespaced(ctx context.Context, ns string) context.Context {
	return namespaces.WithNamespace(ctx, ns)
}
