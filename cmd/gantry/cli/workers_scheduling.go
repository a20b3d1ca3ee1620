package cli

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/gantry-sh/gantry/workers/controllers/daemonset"
	"github.com/gantry-sh/gantry/workers/controllers/deployment"
	"github.com/gantry-sh/gantry/workers/controllers/garbagecollector"
	"github.com/gantry-sh/gantry/workers/controllers/job"
	"github.com/gantry-sh/gantry/workers/controllers/nodelifecycle"
	"github.com/gantry-sh/gantry/workers/controllers/replicaset"
	"github.com/gantry-sh/gantry/workers/scheduler"
)

// startScheduling starts the scheduler and the workload controllers in
// `gantry up`: each registers on the view now (before the projector
// starts, so it sees every change) and runs until ctx ends.
func startScheduling(ctx context.Context, grp *errgroup.Group, cp controlPlane) error {
	runs := []func(context.Context) error{
		scheduler.NewLoop(cp.view, cp.client("gantry/scheduler"), scheduler.LoopOptions{Metrics: scheduler.NewMetrics(cp.reg)}).Run,
		replicaset.NewLoop(cp.view, cp.client("gantry/controller/replicaset"), replicaset.LoopOptions{Metrics: replicaset.NewMetrics(cp.reg)}).Run,
		deployment.NewLoop(cp.view, cp.client("gantry/controller/deployment"), deployment.LoopOptions{Metrics: deployment.NewMetrics(cp.reg)}).Run,
		daemonset.NewLoop(cp.view, cp.client("gantry/controller/daemonset"), daemonset.LoopOptions{Metrics: daemonset.NewMetrics(cp.reg)}).Run,
		job.NewLoop(cp.view, cp.client("gantry/controller/job"), job.LoopOptions{Metrics: job.NewMetrics(cp.reg)}).Run,
		nodelifecycle.NewLoop(cp.view, cp.conn, cp.client("gantry/controller/nodelifecycle"), nodelifecycle.LoopOptions{Metrics: nodelifecycle.NewMetrics(cp.reg)}).Run,
		garbagecollector.NewLoop(cp.view, cp.client("gantry/controller/garbagecollector"), garbagecollector.LoopOptions{Metrics: garbagecollector.NewMetrics(cp.reg)}).Run,
	}
	for _, run := range runs {
		grp.Go(func() error { return run(ctx) })
	}
	return nil
}
