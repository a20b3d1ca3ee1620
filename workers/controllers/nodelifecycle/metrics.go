package nodelifecycle

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the node lifecycle loop's Prometheus metrics.
type Metrics struct {
	Evictions prometheus.Counter
	NotReady  prometheus.Counter
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Evictions: prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_nodelifecycle_evictions_total", Help: "Pods evicted by NoExecute taints."}),
		NotReady:  prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_nodelifecycle_lease_expiries_total", Help: "Nodes marked Ready=Unknown after their lease lapsed."}),
	}
	if reg != nil {
		reg.MustRegister(m.Evictions, m.NotReady)
	}
	return m
}
