package namespace

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the namespace loop's Prometheus metrics.
type Metrics struct {
	Deleted *prometheus.CounterVec
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_namespace_deletions_total", Help: "Objects of deleted namespaces the namespace controller asked to delete, by kind."}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.Deleted)
	}
	return m
}
