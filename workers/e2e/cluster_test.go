package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/hollow"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/controllers/daemonset"
	"github.com/gantry-sh/gantry/workers/controllers/deployment"
	"github.com/gantry-sh/gantry/workers/controllers/garbagecollector"
	"github.com/gantry-sh/gantry/workers/controllers/job"
	"github.com/gantry-sh/gantry/workers/controllers/nodelifecycle"
	"github.com/gantry-sh/gantry/workers/controllers/replicaset"
	"github.com/gantry-sh/gantry/workers/scheduler"
)

// options of one test cluster.
type options struct {
	controllers bool // the workload controllers and the node lifecycle loop, not only the scheduler
	lifecycle   nodelifecycle.Config
	hollow      hollow.Options
}

// cluster is an in-process control plane with hollow nodes.
type cluster struct {
	t      testing.TB
	ns     *server.Server
	conn   *bus.Conn
	view   *projections.View
	client *bus.Client
	fleet  *hollow.Fleet
	store  *bus.Store
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	waiters []chan struct{}
	watches []func(projections.Change)
}

func startCluster(t testing.TB, o options) *cluster {
	t.Helper()
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := bus.ConnectInProcess(ns, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{t: t, ns: ns, conn: conn, ctx: ctx, cancel: cancel, view: projections.NewView(nil)}
	t.Cleanup(c.stop)
	if err := conn.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	c.view.OnChange(c.changed)
	proj, err := projections.NewProjector(ctx, conn, c.view, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.store = proj.Store()
	svc, err := service.New(ctx, conn, service.Options{})
	if err != nil {
		t.Fatal(err)
	}
	queries := projections.NewQueries(c.view, proj.Store(), aggregates.Builtin(), nil)
	c.startWorkers(o)
	c.run(func() { _ = svc.Run(ctx) })
	c.run(func() { _ = queries.Serve(ctx, conn) })
	c.run(func() { _ = proj.Run(ctx) })
	c.client = bus.NewClient(conn, bus.Identity{Source: "user/e2e"})
	c.waitResponders()
	c.mustDo("namespace", aggregates.VerbCreate, aggregates.Command{Name: "default", Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`)})
	if c.fleet, err = hollow.NewFleet(ctx, conn, o.hollow); err != nil {
		t.Fatal(err)
	}
	return c
}

// startWorkers wires the loops as `gantry up` does.
func (c *cluster) startWorkers(o options) {
	client := func(name string) *bus.Client { return bus.NewClient(c.conn, bus.Identity{Source: "gantry/" + name}) }
	sched := scheduler.NewLoop(c.view, client("scheduler"), scheduler.LoopOptions{Config: scheduler.Config{Seed: 1}, Resync: 5 * time.Second})
	c.run(func() { _ = sched.Run(c.ctx) })
	if !o.controllers {
		return
	}
	rs := replicaset.NewLoop(c.view, client("replicaset"), replicaset.LoopOptions{})
	dep := deployment.NewLoop(c.view, client("deployment"), deployment.LoopOptions{})
	ds := daemonset.NewLoop(c.view, client("daemonset"), daemonset.LoopOptions{})
	jb := job.NewLoop(c.view, client("job"), job.LoopOptions{})
	gc := garbagecollector.NewLoop(c.view, client("garbagecollector"), garbagecollector.LoopOptions{})
	nl := nodelifecycle.NewLoop(c.view, c.conn, client("nodelifecycle"), nodelifecycle.LoopOptions{Config: o.lifecycle})
	for _, run := range []func(context.Context) error{rs.Run, dep.Run, ds.Run, jb.Run, gc.Run, nl.Run} {
		c.run(func() { _ = run(c.ctx) })
	}
}

func (c *cluster) run(fn func()) {
	c.wg.Add(1)
	go func() { defer c.wg.Done(); fn() }()
}

func (c *cluster) stop() {
	if c.fleet != nil {
		c.fleet.Stop()
	}
	c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.t.Log("workers did not stop within 10s")
	}
	c.conn.Close()
	c.ns.Shutdown()
	c.ns.WaitForShutdown()
}

func (c *cluster) waitResponders() {
	for range 200 {
		if _, err := c.conn.NC.Request(bus.QuerySubject(projections.QueryEvents), []byte(`{}`), time.Second); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("query service never answered")
}

// changed runs the watches and wakes every waiter; it never blocks.
func (c *cluster) changed(ch projections.Change) {
	c.mu.Lock()
	waiters, watches := c.waiters, c.watches
	c.waiters = nil
	c.mu.Unlock()
	for _, w := range waiters {
		close(w)
	}
	for _, fn := range watches {
		fn(ch)
	}
}

// watch calls fn on every change from now on (in the projector's
// goroutine: keep it quick).
func (c *cluster) watch(fn func(projections.Change)) {
	c.mu.Lock()
	c.watches = append(c.watches, fn)
	c.mu.Unlock()
}

// waitFor re-evaluates cond after every change until it holds or timeout.
func (c *cluster) waitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		ch := make(chan struct{})
		c.waiters = append(c.waiters, ch)
		c.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			c.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// sync waits until the view holds everything stored so far, so a read
// sees the writes before it (as the query API does).
func (c *cluster) sync() {
	c.t.Helper()
	head, _, err := c.store.Head(c.ctx)
	if err == nil {
		err = c.view.WaitFor(c.ctx, head)
	}
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) do(kind, verb string, cmd aggregates.Command) (bus.Reply, error) {
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	return c.client.Do(ctx, kind, verb, cmd, bus.CommandMeta{})
}

func (c *cluster) mustDo(kind, verb string, cmd aggregates.Command) bus.Reply {
	c.t.Helper()
	r, err := c.do(kind, verb, cmd)
	if err != nil {
		c.t.Fatalf("%s %s %s: %v", verb, kind, cmd.Name, err)
	}
	return r
}

// apply sends a manifest given as YAML-ish JSON.
func (c *cluster) apply(kind, ns, name, manifest string) {
	c.t.Helper()
	c.mustDo(kind, aggregates.VerbApply, aggregates.Command{Namespace: ns, Name: name, Object: []byte(manifest)})
}

func (c *cluster) patch(kind, ns, name string, patch any) {
	c.t.Helper()
	raw, _ := json.Marshal(patch)
	c.mustDo(kind, aggregates.VerbPatch, aggregates.Command{Namespace: ns, Name: name, Patch: raw})
}

func (c *cluster) startNodes(prefix string, n int) []*hollow.Node {
	c.t.Helper()
	nodes, err := c.fleet.Start(c.ctx, prefix, n)
	if err != nil {
		c.t.Fatal(err)
	}
	c.waitFor(10*time.Second, fmt.Sprintf("%d %s nodes ready", n, prefix), func() bool {
		ready := 0
		for _, node := range c.nodes() {
			if strings.HasPrefix(node.Name, prefix+"-") && nodeReady(node) {
				ready++
			}
		}
		return ready >= n
	})
	return nodes
}

func (c *cluster) pods(ns string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, e := range c.view.List("pod", ns) {
		p := &corev1.Pod{}
		if json.Unmarshal(e.Raw, p) == nil {
			out = append(out, p)
		}
	}
	return out
}

func (c *cluster) nodes() []*corev1.Node {
	var out []*corev1.Node
	for _, e := range c.view.List("node", "") {
		n := &corev1.Node{}
		if json.Unmarshal(e.Raw, n) == nil {
			out = append(out, n)
		}
	}
	return out
}

func (c *cluster) get(kind, ns, name string, into any) bool {
	e, ok := c.view.Get(kind, ns, name)
	if !ok {
		return false
	}
	return json.Unmarshal(e.Object(), into) == nil
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// selectPods keeps the pods whose labels include all of sel.
func selectPods(pods []*corev1.Pod, sel map[string]string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		ok := true
		for k, v := range sel {
			if p.Labels[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, p)
		}
	}
	return out
}

func count(pods []*corev1.Pod, fn func(*corev1.Pod) bool) int {
	n := 0
	for _, p := range pods {
		if fn(p) {
			n++
		}
	}
	return n
}
