package statefulset

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the StatefulSet loop's Prometheus metrics.
type Metrics struct {
	Reconciles *prometheus.CounterVec
	Created    prometheus.Counter
	Deleted    prometheus.Counter
	Duration   prometheus.Histogram
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_statefulset_reconciles_total", Help: "StatefulSet reconciles by result."}, []string{"result"}),
		Created:    prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_statefulset_pods_created_total", Help: "Pods the StatefulSet controller asked to create."}),
		Deleted:    prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_statefulset_pods_deleted_total", Help: "Pods the StatefulSet controller asked to delete."}),
		Duration:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "controller_statefulset_reconcile_duration_seconds", Help: "Time to reconcile one StatefulSet, commands included."}),
	}
	if reg != nil {
		reg.MustRegister(m.Reconciles, m.Created, m.Deleted, m.Duration)
	}
	return m
}
