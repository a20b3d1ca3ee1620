package cli

import (
	"context"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gantry-sh/gantry/workers/controllers/cronjob"
	"github.com/gantry-sh/gantry/workers/controllers/hpa"
	"github.com/gantry-sh/gantry/workers/controllers/namespace"
	"github.com/gantry-sh/gantry/workers/controllers/statefulset"
)

// startControllers starts the StatefulSet, CronJob, namespace and HPA
// controllers in `gantry up`.
func startControllers(ctx context.Context, grp *errgroup.Group, cp controlPlane) error {
	metrics, err := hpa.NewBusMetrics(cp.conn, 2*time.Minute)
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { _ = metrics.Close() })
	loops := []func(context.Context) error{
		statefulset.NewLoop(cp.view, cp.client("gantry/statefulset"), statefulset.LoopOptions{
			DataDir: filepath.Join(cp.data, "agent"), Metrics: cp.leaderMetrics.statefulset,
		}).Run,
		cronjob.NewLoop(cp.view, cp.client("gantry/cronjob"), cronjob.LoopOptions{Metrics: cp.leaderMetrics.cronjob}).Run,
		namespace.NewLoop(cp.view, cp.client("gantry/namespace"), namespace.LoopOptions{Metrics: cp.leaderMetrics.namespace}).Run,
		hpa.NewLoop(cp.view, cp.client("gantry/hpa"), metrics, hpa.LoopOptions{Metrics: cp.leaderMetrics.hpa}).Run,
	}
	for _, run := range loops {
		grp.Go(func() error { return run(ctx) })
	}
	return nil
}
