package daemonset

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the DaemonSet loop's Prometheus metrics.
type Metrics struct {
	Reconciles       *prometheus.CounterVec
	Created, Deleted prometheus.Counter
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_daemonset_reconciles_total", Help: "DaemonSet reconciles by result."}, []string{"result"}),
		Created:    prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_daemonset_pods_created_total", Help: "Daemon pods asked to be created."}),
		Deleted:    prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_daemonset_pods_deleted_total", Help: "Daemon pods asked to be deleted."}),
	}
	if reg != nil {
		reg.MustRegister(m.Reconciles, m.Created, m.Deleted)
	}
	return m
}
