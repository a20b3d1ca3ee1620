package projections_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/schemas"
)

// cluster is an in-process control plane on a real embedded JetStream.
type cluster struct {
	ns      *server.Server
	conn    *bus.Conn
	client  *bus.Client
	store   *bus.Store
	view    *projections.View
	sealer  *seal.Sealer
	cancel  context.CancelFunc
	done    chan struct{}
	metrics []*service.Metrics
}

func startCluster(t *testing.T, dir string, replicas int) *cluster {
	t.Helper()
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := bus.ConnectInProcess(ns, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := conn.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New(bytes.Repeat([]byte{42}, 32), rand.Reader)
	validator, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{ns: ns, conn: conn, sealer: sealer, cancel: cancel, done: make(chan struct{}), view: projections.NewView(sealer)}
	proj, err := projections.NewProjector(ctx, conn, c.view, sealer)
	if err != nil {
		t.Fatal(err)
	}
	c.store = proj.Store()
	if err := proj.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	running := 0
	finished := make(chan struct{}, replicas+2)
	for i := 0; i < replicas; i++ {
		m := service.NewMetrics(nil)
		c.metrics = append(c.metrics, m)
		svc, err := service.New(ctx, conn, service.Options{Sealer: sealer, Validator: validator, Lanes: 8, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		running++
		go func() { _ = svc.Run(ctx); finished <- struct{}{} }()
	}
	q := projections.NewQueries(c.view, c.store, aggregates.Builtin(), sealer)
	running += 2
	go func() { _ = q.Serve(ctx, conn); finished <- struct{}{} }()
	go func() {
		if err := proj.Run(ctx); err != nil {
			t.Errorf("projector: %v", err)
		}
		finished <- struct{}{}
	}()
	go func() {
		for i := 0; i < running; i++ {
			<-finished
		}
		close(c.done)
	}()
	c.client = bus.NewClient(conn, bus.Identity{Source: "user/test"})
	waitResponders(t, conn)
	t.Cleanup(c.stop)
	return c
}

func waitResponders(t *testing.T, conn *bus.Conn) {
	for i := 0; i < 100; i++ {
		if _, err := conn.NC.Request(bus.QuerySubject(projections.QueryEvents), []byte(`{}`), time.Second); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("query service never answered")
}

func (c *cluster) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
	c.conn.Close()
	c.ns.Shutdown()
	c.ns.WaitForShutdown()
	c.cancel = nil
}

func (c *cluster) do(t *testing.T, kind, verb string, cmd aggregates.Command) (bus.Reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.client.Do(ctx, kind, verb, cmd, bus.CommandMeta{})
}

func (c *cluster) mustDo(t *testing.T, kind, verb string, cmd aggregates.Command) bus.Reply {
	t.Helper()
	r, err := c.do(t, kind, verb, cmd)
	if err != nil {
		t.Fatalf("%s %s %s: %v", verb, kind, cmd.Name, err)
	}
	return r
}

func (c *cluster) createNamespace(t *testing.T, name string) {
	c.mustDo(t, "namespace", "create", aggregates.Command{Name: name, Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + name + `"}}`)})
}

func (c *cluster) list(t *testing.T, req projections.ListRequest) projections.ListResponse {
	t.Helper()
	var resp projections.ListResponse
	if err := c.client.Query(context.Background(), projections.QueryList, req, &resp); err != nil {
		t.Fatalf("list %+v: %v", req, err)
	}
	return resp
}

func (c *cluster) retries() float64 {
	n := 0.0
	for _, m := range c.metrics {
		n += testutil.ToFloat64(m.Retries)
	}
	return n
}
