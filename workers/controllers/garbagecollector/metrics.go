package garbagecollector

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the collector's Prometheus metrics.
type Metrics struct {
	Deletions prometheus.Counter
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{Deletions: prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_garbagecollector_deletions_total", Help: "Objects deleted because their owners are gone."})}
	if reg != nil {
		reg.MustRegister(m.Deletions)
	}
	return m
}
