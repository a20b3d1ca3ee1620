package hpa

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the HPA loop's Prometheus metrics.
type Metrics struct {
	Reconciles *prometheus.CounterVec
	Scaled     *prometheus.CounterVec
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_hpa_reconciles_total", Help: "HPA evaluations by result."}, []string{"result"}),
		Scaled:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_hpa_scales_total", Help: "Scale commands sent by the HPA controller, by direction."}, []string{"direction"}),
	}
	if reg != nil {
		reg.MustRegister(m.Reconciles, m.Scaled)
	}
	return m
}
