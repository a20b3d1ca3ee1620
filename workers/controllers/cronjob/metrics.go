package cronjob

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the CronJob loop's Prometheus metrics.
type Metrics struct {
	Reconciles *prometheus.CounterVec
	Started    prometheus.Counter
	Skipped    prometheus.Counter
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_cronjob_reconciles_total", Help: "CronJob reconciles by result."}, []string{"result"}),
		Started:    prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_cronjob_jobs_started_total", Help: "Jobs the CronJob controller asked to create."}),
		Skipped:    prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_cronjob_runs_skipped_total", Help: "Due runs not started (Forbid with a run active, starting deadline missed)."}),
	}
	if reg != nil {
		reg.MustRegister(m.Reconciles, m.Started, m.Skipped)
	}
	return m
}
