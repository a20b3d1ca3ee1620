package cli

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-sh/gantry/workers/controllers/cronjob"
	"github.com/gantry-sh/gantry/workers/controllers/daemonset"
	"github.com/gantry-sh/gantry/workers/controllers/deployment"
	"github.com/gantry-sh/gantry/workers/controllers/garbagecollector"
	"github.com/gantry-sh/gantry/workers/controllers/hpa"
	"github.com/gantry-sh/gantry/workers/controllers/job"
	"github.com/gantry-sh/gantry/workers/controllers/namespace"
	"github.com/gantry-sh/gantry/workers/controllers/nodelifecycle"
	"github.com/gantry-sh/gantry/workers/controllers/replicaset"
	"github.com/gantry-sh/gantry/workers/controllers/statefulset"
	"github.com/gantry-sh/gantry/workers/scheduler"
)

// leaderMetrics are the metrics of the workers only the leader runs. They
// are registered once: a process leads for a term at a time, and each
// term's loops report into the same series.
type leaderMetrics struct {
	scheduler        *scheduler.Metrics
	replicaset       *replicaset.Metrics
	deployment       *deployment.Metrics
	daemonset        *daemonset.Metrics
	job              *job.Metrics
	nodelifecycle    *nodelifecycle.Metrics
	garbagecollector *garbagecollector.Metrics
	statefulset      *statefulset.Metrics
	cronjob          *cronjob.Metrics
	namespace        *namespace.Metrics
	hpa              *hpa.Metrics
}

func newLeaderMetrics(reg prometheus.Registerer) *leaderMetrics {
	return &leaderMetrics{
		scheduler: scheduler.NewMetrics(reg), replicaset: replicaset.NewMetrics(reg), deployment: deployment.NewMetrics(reg),
		daemonset: daemonset.NewMetrics(reg), job: job.NewMetrics(reg), nodelifecycle: nodelifecycle.NewMetrics(reg),
		garbagecollector: garbagecollector.NewMetrics(reg), statefulset: statefulset.NewMetrics(reg),
		cronjob: cronjob.NewMetrics(reg), namespace: namespace.NewMetrics(reg), hpa: hpa.NewMetrics(reg),
	}
}

// startScheduling starts the scheduler and the workload controllers: each
// seeds itself from the view and runs until ctx ends.
func startScheduling(ctx context.Context, grp *errgroup.Group, cp controlPlane) error {
	m := cp.leaderMetrics
	runs := []func(context.Context) error{
		scheduler.NewLoop(cp.view, cp.client("gantry/scheduler"), scheduler.LoopOptions{Metrics: m.scheduler}).Run,
		replicaset.NewLoop(cp.view, cp.client("gantry/controller/replicaset"), replicaset.LoopOptions{Metrics: m.replicaset}).Run,
		deployment.NewLoop(cp.view, cp.client("gantry/controller/deployment"), deployment.LoopOptions{Metrics: m.deployment}).Run,
		daemonset.NewLoop(cp.view, cp.client("gantry/controller/daemonset"), daemonset.LoopOptions{Metrics: m.daemonset}).Run,
		job.NewLoop(cp.view, cp.client("gantry/controller/job"), job.LoopOptions{Metrics: m.job}).Run,
		nodelifecycle.NewLoop(cp.view, cp.conn, cp.client("gantry/controller/nodelifecycle"), nodelifecycle.LoopOptions{Metrics: m.nodelifecycle}).Run,
		garbagecollector.NewLoop(cp.view, cp.client("gantry/controller/garbagecollector"), garbagecollector.LoopOptions{Metrics: m.garbagecollector}).Run,
	}
	for _, run := range runs {
		grp.Go(func() error { return run(ctx) })
	}
	return nil
}
