// Package projtest is an in-process control plane for tests only: an
// embedded JetStream, the command service, a projector feeding one View,
// the query service and a client. Nothing but _test.go files may import
// it.
package projtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/schemas"
)

// Cluster is a running control plane; it stops at test cleanup (or at
// Stop).
type Cluster struct {
	Server   *server.Server
	StoreDir string // the JetStream store, readable after Stop
	Conn     *bus.Conn
	Store    *bus.Store
	View     *projections.View
	Sealer   *seal.Sealer
	Client   *bus.Client        // speaks as user/test
	Metrics  []*service.Metrics // one per command service replica
	t        testing.TB
	stop     func()
}

// Options configure the control plane.
type Options struct {
	Alloc service.AllocConfig
	// Replicas of the command service (default 1).
	Replicas int
	// NoDefaultNamespace starts without the "default" namespace, for tests
	// that create it themselves.
	NoDefaultNamespace bool
}

// Start runs a control plane with the "default" namespace.
func Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	dir := t.TempDir()
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := bus.ConnectInProcess(ns, "projtest")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{Server: ns, StoreDir: dir, Conn: conn, t: t}
	running, finished := 0, make(chan struct{}, max(opt.Replicas, 1)+2)
	run := func(f func(context.Context) error) {
		running++
		go func() { _ = f(ctx); finished <- struct{}{} }()
	}
	c.stop = sync.OnceFunc(func() {
		cancel()
		timeout := time.After(10 * time.Second)
		for range running {
			select {
			case <-finished:
			case <-timeout:
			}
		}
		conn.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	t.Cleanup(c.stop)
	if err := conn.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	c.Sealer, _ = seal.New(bytes.Repeat([]byte{7}, 32), rand.Reader)
	validator, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for range max(opt.Replicas, 1) {
		m := service.NewMetrics(nil)
		svc, err := service.New(ctx, conn, service.Options{Sealer: c.Sealer, Validator: validator, Lanes: 8, Alloc: opt.Alloc, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		c.Metrics = append(c.Metrics, m)
		run(svc.Run)
	}
	c.View = projections.NewView(c.Sealer)
	proj, err := projections.NewProjector(ctx, conn, c.View, c.Sealer)
	if err != nil {
		t.Fatal(err)
	}
	c.Store = proj.Store()
	run(func(ctx context.Context) error {
		if err := proj.Run(ctx); err != nil {
			t.Errorf("projector: %v", err)
		}
		return nil
	})
	q := projections.NewQueries(c.View, c.Store, aggregates.Builtin(), c.Sealer)
	run(func(ctx context.Context) error { return q.Serve(ctx, conn) })
	c.Client = bus.NewClient(conn, bus.Identity{Source: "user/test"})
	c.waitQueries()
	if !opt.NoDefaultNamespace {
		c.createDefault()
	}
	return c
}

// Stop ends the control plane now; later calls (and cleanup) do nothing.
func (c *Cluster) Stop() { c.stop() }

// waitQueries waits until the query service answers.
func (c *Cluster) waitQueries() {
	c.t.Helper()
	for range 100 {
		if _, err := c.Conn.NC.Request(bus.QuerySubject(projections.QueryEvents), []byte(`{}`), time.Second); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("query service never answered")
}

// createDefault creates the "default" namespace, retrying while the
// command service is still subscribing.
func (c *Cluster) createDefault() {
	c.t.Helper()
	for i := 0; ; i++ {
		_, err := c.Do("namespace", "create", aggregates.Command{Name: "default", Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`)})
		if err == nil {
			return
		}
		if i > 200 {
			c.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CaughtUp waits until the view has folded everything stored now.
func (c *Cluster) CaughtUp(ctx context.Context) error {
	head, _, err := c.Store.Head(ctx)
	if err != nil {
		return err
	}
	return c.View.WaitFor(ctx, head)
}

// Do sends a command as user/test and waits until the view has folded
// the event it caused (read your writes: the test's next look at the view
// sees it).
func (c *Cluster) Do(kind, verb string, cmd aggregates.Command) (bus.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Client.Do(ctx, kind, verb, cmd, bus.CommandMeta{WantObject: true}) // tests read the object back
	if err != nil {
		return r, err
	}
	return r, c.View.WaitFor(ctx, r.Seq)
}

// MustDo sends a command and fails the test if it is refused.
func (c *Cluster) MustDo(kind, verb string, cmd aggregates.Command) bus.Reply {
	c.t.Helper()
	r, err := c.Do(kind, verb, cmd)
	if err != nil {
		c.t.Fatalf("%s %s %s: %v", verb, kind, cmd.Name, err)
	}
	return r
}

// Apply applies a manifest (any JSON-able object) as ns/name.
func (c *Cluster) Apply(kind, ns, name string, obj any) bus.Reply {
	c.t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.MustDo(kind, "apply", aggregates.Command{Namespace: ns, Name: name, Object: raw})
}

// Status replaces the status of ns/name.
func (c *Cluster) Status(kind, ns, name string, status any) bus.Reply {
	c.t.Helper()
	raw, err := json.Marshal(status)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.MustDo(kind, "status", aggregates.Command{Namespace: ns, Name: name, Status: raw})
}

// Eventually polls cond every 20ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
