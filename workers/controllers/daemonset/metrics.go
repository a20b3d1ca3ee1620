package daemonset

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// Metrics are the DaemonSet loop's Prometheus metrics: reconciles by
// result and daemon pods asked for.
type Metrics struct {
	owned.Metrics
	Created, Deleted prometheus.Counter
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Metrics: owned.NewMetrics("daemonset", "DaemonSet"),
		Created: prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_daemonset_pods_created_total", Help: "Daemon pods asked to be created."}),
		Deleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_daemonset_pods_deleted_total", Help: "Daemon pods asked to be deleted."}),
	}
	owned.Register(reg, append(m.Collectors(), m.Created, m.Deleted)...)
	return m
}
