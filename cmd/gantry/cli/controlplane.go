package cli

import (
	"context"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// controlPlane is what the workers `gantry up` runs in-process share: the
// connection, the current-state view (register View.OnChange before the
// projector starts; callbacks must not block), the kinds, the metrics
// registry and the data dir.
type controlPlane struct {
	conn  *bus.Conn
	view  *projections.View
	kinds *aggregates.Registry
	reg   *prometheus.Registry
	data  string
	out   io.Writer
	// localAgent: run a node agent for this machine (gantry up --agent).
	localAgent bool
	// nodeDNS is the pod bridge's gateway address where the cluster DNS
	// also listens, for pods' resolv.conf ("" without a local agent).
	nodeDNS string
	network networkOptions // gantry up's networking flags
}

// client is a command client speaking as one worker ("gantry/scheduler").
func (cp controlPlane) client(source string) *bus.Client {
	return bus.NewClient(cp.conn, bus.Identity{Source: source})
}

// startWorkers starts every in-process worker on grp.
func startWorkers(ctx context.Context, grp *errgroup.Group, cp controlPlane) error {
	cp.nodeDNS = prepareNodeBridge(cp)
	for _, start := range []func(context.Context, *errgroup.Group, controlPlane) error{
		startScheduling,
		startNetworking,
		startLocalAgent,
		startControllers,
	} {
		if err := start(ctx, grp, cp); err != nil {
			return err
		}
	}
	return nil
}
