// Package testcluster is an in-process control plane for worker tests: an
// embedded JetStream, the command service, a projector feeding one View,
// and a client. Tests only; nothing outside workers/ may import it.
package testcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/schemas"
)

// Cluster is a running control plane; it stops at test cleanup.
type Cluster struct {
	Conn   *bus.Conn
	Store  *bus.Store
	View   *projections.View
	Client *bus.Client
	t      testing.TB
}

// Options configure the command service.
type Options struct {
	Alloc service.AllocConfig
}

// Start runs a control plane with the "default" namespace.
func Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := bus.ConnectInProcess(ns, "testcluster")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{}, 3)
	t.Cleanup(func() {
		cancel()
		for range 3 {
			select {
			case <-finished:
			case <-time.After(10 * time.Second):
			}
		}
		conn.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if err := conn.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New(bytes.Repeat([]byte{7}, 32), rand.Reader)
	validator, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(ctx, conn, service.Options{Sealer: sealer, Validator: validator, Lanes: 8, Alloc: opt.Alloc})
	if err != nil {
		t.Fatal(err)
	}
	view := projections.NewView(sealer)
	proj, err := projections.NewProjector(ctx, conn, view, sealer)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = svc.Run(ctx); finished <- struct{}{} }()
	go func() { _ = proj.Run(ctx); finished <- struct{}{} }()
	q := projections.NewQueries(view, proj.Store(), aggregates.Builtin(), sealer)
	go func() { _ = q.Serve(ctx, conn); finished <- struct{}{} }()
	c := &Cluster{Conn: conn, Store: proj.Store(), View: view, Client: bus.NewClient(conn, bus.Identity{Source: "user/test"}), t: t}
	for i := 0; ; i++ {
		_, err := c.Do("namespace", "create", aggregates.Command{Name: "default", Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`)})
		if err == nil {
			break
		}
		if i > 200 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
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
	r, err := c.Client.Do(ctx, kind, verb, cmd, bus.CommandMeta{})
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
