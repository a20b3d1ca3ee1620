package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// cluster is an in-process control plane on a real embedded JetStream,
// without the "default" namespace: the tests create their namespaces.
type cluster struct {
	plane  *projtest.Cluster
	conn   *bus.Conn
	client *bus.Client
	store  *bus.Store
	view   *projections.View
	dir    string // the JetStream store
}

// startCluster runs replicas of the command service; the store's
// directory is c.dir, readable after c.stop.
func startCluster(t *testing.T, replicas int) *cluster {
	t.Helper()
	pc := projtest.Start(t, projtest.Options{Replicas: replicas, NoDefaultNamespace: true})
	return &cluster{plane: pc, conn: pc.Conn, client: pc.Client, store: pc.Store, view: pc.View, dir: pc.StoreDir}
}

func (c *cluster) stop() { c.plane.Stop() }

func (c *cluster) do(t *testing.T, kind, verb string, cmd aggregates.Command) (bus.Reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.client.Do(ctx, kind, verb, cmd, bus.CommandMeta{WantObject: true}) // the tests read the object back
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
	for _, m := range c.plane.Metrics {
		n += testutil.ToFloat64(m.Retries)
	}
	return n
}
