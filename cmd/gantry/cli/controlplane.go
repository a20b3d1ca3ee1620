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

	// leaderMetrics are the scheduler's and the controllers' (registered
	// once, whoever leads).
	leaderMetrics *leaderMetrics
	// election: the scheduler and the controllers run only while this
	// process leads (bus.Elect); nil runs them at once, for good.
	election *election
}

// election is how `gantry up` stands for leading the control plane.
type election struct {
	identity string // unique among the control planes sharing a bus
	opts     bus.ElectOptions
}

// leaderRole is the role the scheduler and the controllers run under.
const leaderRole = "controllers"

// client is a command client speaking as one worker ("gantry/scheduler").
func (cp controlPlane) client(source string) *bus.Client {
	return bus.NewClient(cp.conn, bus.Identity{Source: source})
}

// startWorkers starts every in-process worker on grp: this machine's
// (networking, the local agent) at once, and the scheduler and the
// controllers while this process leads the control plane.
func startWorkers(ctx context.Context, grp *errgroup.Group, cp controlPlane) error {
	cp.nodeDNS = prepareNodeBridge(cp)
	for _, start := range []func(context.Context, *errgroup.Group, controlPlane) error{
		startNetworking,
		startLocalAgent,
	} {
		if err := start(ctx, grp, cp); err != nil {
			return err
		}
	}
	if cp.election == nil {
		return startLeading(ctx, grp, cp)
	}
	grp.Go(func() error {
		return bus.Elect(ctx, cp.conn, leaderRole, cp.election.identity, cp.election.opts, func(term context.Context) error {
			workers, term := errgroup.WithContext(term)
			if err := startLeading(term, workers, cp); err != nil {
				return err
			}
			return workers.Wait()
		})
	})
	return nil
}

// startLeading starts the workers one control plane runs at a time: the
// scheduler and the controllers. Each starts from what the view holds.
func startLeading(ctx context.Context, grp *errgroup.Group, cp controlPlane) error {
	for _, start := range []func(context.Context, *errgroup.Group, controlPlane) error{
		startScheduling,
		startControllers,
		startEndpoints,
	} {
		if err := start(ctx, grp, cp); err != nil {
			return err
		}
	}
	return nil
}
