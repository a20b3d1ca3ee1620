package nete2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/agentd/cni"
	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projtest"
	"github.com/gantry-sh/gantry/workers/controllers/deployment"
	"github.com/gantry-sh/gantry/workers/controllers/endpoints"
	"github.com/gantry-sh/gantry/workers/controllers/replicaset"
	"github.com/gantry-sh/gantry/workers/dns"
	"github.com/gantry-sh/gantry/workers/proxy"
)

// The node's network (doc.go).
const (
	bridge      = "gantrynet0"
	podCIDR     = "10.244.123.0/24"
	gateway     = "10.244.123.1"
	bridgeMAC   = "02:00:0a:f4:7b:01"
	serviceCIDR = "10.99.0.0/16"
	nodeName    = "node-net"
	table       = "gantrynete2e"
	shards      = 2
)

// env is one node and its control plane; everything stops in t.Cleanup.
type env struct {
	t   *testing.T
	c   *projtest.Cluster
	ns  string // the namespace the test's objects live in
	ctx context.Context

	net   *cni.Network
	rt    *runtime.Containerd
	ctrNS string // containerd namespace

	proxy *proxyRun

	mu      sync.Mutex
	waiters []chan struct{}
	watches []func(projections.Change)
}

// newEnv starts the node (bridge, agent), the control plane and the
// networking workers, and creates namespace ns.
func newEnv(t *testing.T, ns string) *env {
	t.Helper()
	needsNode(t)
	// Cleanups run last-registered first: pods go before the workers,
	// the workers before the bus, the tables and the bridge last.
	setupBridge(t)
	t.Cleanup(removeTables)
	e := &env{t: t, ns: ns, c: projtest.Start(t, projtest.Options{
		Alloc: service.AllocConfig{ServiceCIDR: netip.MustParsePrefix(serviceCIDR)}})}
	e.c.View.OnChange(e.changed)
	e.startWorkers()
	e.proxy = e.startProxy()
	e.startAgent()
	e.c.MustDo("namespace", "create", aggregates.Command{Name: ns,
		Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + ns + `"}}`)})
	return e
}

// setupBridge makes the pod bridge with the gateway address before the
// first pod (so DNS can bind it), lets bridged traffic pass netfilter, and
// routes the service CIDR to it.
func setupBridge(t *testing.T) {
	removeBridge() // left by a killed run (TestMain holds the lock)
	t.Cleanup(removeBridge)
	for _, args := range [][]string{
		// A fixed MAC: a bridge whose MAC was never set takes the lowest
		// MAC of its ports, which changes as pods come, and the pods'
		// ARP entries for the gateway go stale (measured: a request
		// stalled ~5s and failed). The CNI bridge plugin pins the MAC
		// when it adds the gateway address itself; here the address is
		// added before the plugin runs, so it is pinned here.
		{"link", "add", bridge, "address", bridgeMAC, "type", "bridge", "nf_call_iptables", "1"},
		{"addr", "add", gateway + "/24", "dev", bridge},
		{"link", "set", bridge, "up"},
		{"route", "add", serviceCIDR, "dev", bridge, "src", gateway},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}

func removeBridge() { _ = exec.Command("ip", "link", "del", bridge).Run() }

// removeTables deletes the proxy's tables, whatever a test left.
func removeTables() {
	if p, err := proxy.New(proxy.Config{Table: table, Shards: shards}); err == nil {
		_ = p.Cleanup()
		_ = p.Close()
	}
}

// use points e's failures at subtest t until the returned func runs.
func (e *env) use(t *testing.T) func() {
	prev := e.t
	e.t = t
	return func() { e.t = prev }
}

func (e *env) client(source string) *bus.Client {
	return bus.NewClient(e.c.Conn, bus.Identity{Source: source})
}

// startWorkers runs the endpoints controller, the replicaset and
// deployment loops and the DNS worker until cleanup.
func (e *env) startWorkers() {
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx
	var wg sync.WaitGroup
	e.t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			e.t.Error("workers did not stop within 15s")
		}
	})
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ep := endpoints.New(e.c.View, e.client(endpoints.Source), endpoints.Options{CaughtUp: e.c.CaughtUp, Log: quiet})
	rs := replicaset.NewLoop(e.c.View, e.client("gantry/replicaset"), replicaset.LoopOptions{})
	dep := deployment.NewLoop(e.c.View, e.client("gantry/deployment"), deployment.LoopOptions{})
	ready := make(chan []string, 1)
	dnsW, err := dns.NewWorker(e.c.View, dns.Config{}, dns.WorkerOptions{
		Addrs: []string{gateway + ":53"}, CaughtUp: e.c.CaughtUp, Ready: func(a []string) { ready <- a }})
	if err != nil {
		e.t.Fatal(err)
	}
	dnsErr := make(chan error, 1)
	for _, run := range []func(context.Context) error{ep.Run, rs.Run, dep.Run, dnsW.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				select {
				case dnsErr <- err:
				default:
				}
			}
		}()
	}
	select {
	case <-ready:
	case err := <-dnsErr:
		e.t.Fatalf("a worker stopped: %v", err)
	case <-time.After(20 * time.Second):
		e.t.Fatal("DNS worker not ready within 20s")
	}
}

// proxyRun is one run of the proxy loop.
type proxyRun struct {
	cancel context.CancelFunc
	done   chan error
}

// startProxy runs a proxy loop in the host namespace until stop (or
// cleanup), and waits for its first sync.
func (e *env) startProxy() *proxyRun {
	e.t.Helper()
	p, err := proxy.New(proxy.Config{Table: table, Shards: shards, NodeName: nodeName,
		NodeIPs:     []netip.Addr{netip.MustParseAddr(gateway)},
		ClusterCIDR: netip.MustParsePrefix(podCIDR), ServiceCIDR: netip.MustParsePrefix(serviceCIDR)})
	if err != nil {
		e.t.Fatal(err)
	}
	synced := make(chan struct{})
	loop := proxy.NewLoop(e.c.View, p, proxy.LoopOptions{CaughtUp: e.c.CaughtUp, Synced: func() { close(synced) }})
	ctx, cancel := context.WithCancel(context.Background())
	pr := &proxyRun{cancel: cancel, done: make(chan error, 1)}
	go func() { pr.done <- loop.Run(ctx) }()
	e.t.Cleanup(pr.stop)
	select {
	case <-synced:
	case err := <-pr.done:
		e.t.Fatalf("proxy stopped: %v", err)
	case <-time.After(20 * time.Second):
		e.t.Fatal("proxy never synced")
	}
	return pr
}

// stop ends the loop as a crash would: the tables stay.
func (pr *proxyRun) stop() {
	if pr.cancel == nil {
		return
	}
	pr.cancel()
	select {
	case <-pr.done:
	case <-time.After(15 * time.Second):
	}
	pr.cancel = nil
}

// startAgent runs the node agent on the shared containerd, in its own
// containerd namespace, with pods on the test bridge.
func (e *env) startAgent() {
	e.t.Helper()
	dir := e.t.TempDir()
	e.ctrNS = fmt.Sprintf("gantry-nete2e-%d", os.Getpid())
	var err error
	e.net, err = cni.New(cni.Config{Name: "gantry-nete2e", Bridge: bridge, Subnet: podCIDR,
		DataDir: filepath.Join(dir, "cni"), NetnsDir: filepath.Join(dir, "netns"), NetnsPrefix: "gantry-nete2e-"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.rt, err = runtime.New(runtime.Options{Client: daemon.Client, Namespace: e.ctrNS, DataDir: filepath.Join(dir, "agent"), Network: e.net})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := agent.New(e.c.Conn, e.rt, agent.Config{
		NodeName: nodeName, PodCIDR: podCIDR, NodeIP: gateway, ClusterDNS: []string{gateway},
		LeaseInterval: time.Second, MetricsInterval: 5 * time.Second, ResyncInterval: time.Second,
		Backoff: agent.Backoff{Base: 300 * time.Millisecond, Max: 2 * time.Second},
		Log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			e.t.Error("agent did not stop within 30s")
		}
		e.removePods()
	})
	select {
	case <-a.Ready():
	case err := <-done:
		e.t.Fatalf("agent stopped: %v", err)
	case <-time.After(30 * time.Second):
		e.t.Fatal("agent not ready within 30s")
	}
}

// removePods removes every pod, image and the containerd namespace.
func (e *env) removePods() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods, _ := e.rt.ListPods(ctx)
	for _, p := range pods {
		if err := e.rt.RemovePod(ctx, p.UID); err != nil {
			e.t.Errorf("cleanup pod %s: %v", p.UID, err)
		}
	}
	nctx := namespaced(ctx, e.ctrNS)
	imgs, _ := daemon.Client.ImageService().List(nctx)
	for _, img := range imgs {
		_ = daemon.Client.ImageService().Delete(nctx, img.Name)
	}
	_ = daemon.Client.NamespaceService().Delete(ctx, e.ctrNS)
	_ = os.Remove(filepath.Join("/run/containerd/runc", e.ctrNS))
}

// changed runs the watches and wakes every waiter; it never blocks.
func (e *env) changed(ch projections.Change) {
	e.mu.Lock()
	waiters, watches := e.waiters, e.watches
	e.waiters = nil
	e.mu.Unlock()
	for _, w := range waiters {
		close(w)
	}
	for _, fn := range watches {
		fn(ch)
	}
}

// watch calls fn on every change from now on (in the projector's
// goroutine: keep it quick).
func (e *env) watch(fn func(projections.Change)) {
	e.mu.Lock()
	e.watches = append(e.watches, fn)
	e.mu.Unlock()
}

// waitFor re-evaluates cond after every change (and every 200ms, for
// conditions outside the view) until it holds or timeout.
func (e *env) waitFor(timeout time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.After(timeout)
	for {
		e.mu.Lock()
		ch := make(chan struct{})
		e.waiters = append(e.waiters, ch)
		e.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			e.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// apply sends a YAML manifest of kind into the test's namespace.
func (e *env) apply(kind, manifest string) bus.Reply {
	e.t.Helper()
	r, err := e.tryApply(kind, manifest)
	if err != nil {
		e.t.Fatalf("apply %s: %v", kind, err)
	}
	return r
}

func (e *env) tryApply(kind, manifest string) (bus.Reply, error) {
	obj, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		e.t.Fatal(err)
	}
	var meta struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	_ = json.Unmarshal(obj, &meta)
	return e.c.Do(kind, "apply", aggregates.Command{Namespace: e.ns, Name: meta.Metadata.Name, Object: obj})
}

// service returns the stored service, waiting for the view to hold it.
func (e *env) service(name string) *corev1.Service {
	e.t.Helper()
	var en projections.Entry
	e.waitFor(10*time.Second, "service "+name+" in the view", func() bool {
		var ok bool
		en, ok = e.c.View.Get("service", e.ns, name)
		return ok
	})
	var svc corev1.Service
	if err := json.Unmarshal(en.Raw, &svc); err != nil {
		e.t.Fatal(err)
	}
	return &svc
}
