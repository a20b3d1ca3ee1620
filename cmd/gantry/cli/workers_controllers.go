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
			DataDir: filepath.Join(cp.data, "agent"), Metrics: statefulset.NewMetrics(cp.reg),
		}).Run,
		cronjob.NewLoop(cp.view, cp.client("gantry/cronjob"), cronjob.LoopOptions{Metrics: cronjob.NewMetrics(cp.reg)}).Run,
		namespace.NewLoop(cp.view, cp.client("gantry/namespace"), namespace.LoopOptions{Metrics: namespace.NewMetrics(cp.reg)}).Run,
		hpa.NewLoop(cp.view, cp.client("gantry/hpa"), metrics, hpa.LoopOptions{Metrics: hpa.NewMetrics(cp.reg)}).Run,
	}
	for _, run := range loops {
		grp.Go(func() error { return run(ctx) })
	}
	return nil
}
