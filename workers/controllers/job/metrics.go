package job

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the Job loop's Prometheus metrics.
type Metrics struct {
	Reconciles *prometheus.CounterVec
	Created    prometheus.Counter
	Finished   *prometheus.CounterVec
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_job_reconciles_total", Help: "Job reconciles by result."}, []string{"result"}),
		Created:    prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_job_pods_created_total", Help: "Job pods asked to be created."}),
		Finished:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_job_finished_total", Help: "Jobs finished by condition and reason."}, []string{"condition", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Reconciles, m.Created, m.Finished)
	}
	return m
}
