package statefulset

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// Metrics are the StatefulSet loop's Prometheus metrics: reconciles by
// result, their duration, and pods asked for.
type Metrics struct {
	owned.Metrics
	Created prometheus.Counter
	Deleted prometheus.Counter
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Metrics: owned.NewTimedMetrics("statefulset", "StatefulSet"),
		Created: prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_statefulset_pods_created_total", Help: "Pods the StatefulSet controller asked to create."}),
		Deleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_statefulset_pods_deleted_total", Help: "Pods the StatefulSet controller asked to delete."}),
	}
	owned.Register(reg, append(m.Collectors(), m.Created, m.Deleted)...)
	return m
}
