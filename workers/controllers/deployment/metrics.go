package deployment

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the Deployment loop's Prometheus metrics.
type Metrics struct {
	Reconciles *prometheus.CounterVec
	Created    prometheus.Counter
	Duration   prometheus.Histogram
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_deployment_reconciles_total", Help: "Deployment reconciles by result."}, []string{"result"}),
		Created:    prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_deployment_replicasets_created_total", Help: "ReplicaSets the Deployment controller asked to create."}),
		Duration:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "controller_deployment_reconcile_duration_seconds", Help: "Time to reconcile one Deployment, commands included."}),
	}
	if reg != nil {
		reg.MustRegister(m.Reconciles, m.Created, m.Duration)
	}
	return m
}
