package job

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// Metrics are the Job loop's Prometheus metrics: reconciles by result,
// pods asked for, and Jobs finished.
type Metrics struct {
	owned.Metrics
	Created  prometheus.Counter
	Finished *prometheus.CounterVec
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Metrics:  owned.NewMetrics("job", "Job"),
		Created:  prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_job_pods_created_total", Help: "Job pods asked to be created."}),
		Finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_job_finished_total", Help: "Jobs finished by condition and reason."}, []string{"condition", "reason"}),
	}
	owned.Register(reg, append(m.Collectors(), m.Created, m.Finished)...)
	return m
}
