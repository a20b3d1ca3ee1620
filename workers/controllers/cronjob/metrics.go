package cronjob

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// Metrics are the CronJob loop's Prometheus metrics: reconciles by result,
// Jobs started and runs skipped.
type Metrics struct {
	owned.Metrics
	Started prometheus.Counter
	Skipped prometheus.Counter
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Metrics: owned.NewMetrics("cronjob", "CronJob"),
		Started: prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_cronjob_jobs_started_total", Help: "Jobs the CronJob controller asked to create."}),
		Skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_cronjob_runs_skipped_total", Help: "Due runs not started (Forbid with a run active, starting deadline missed)."}),
	}
	owned.Register(reg, append(m.Collectors(), m.Started, m.Skipped)...)
	return m
}
