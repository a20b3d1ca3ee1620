package deployment

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// Metrics are the Deployment loop's Prometheus metrics: reconciles by
// result, their duration, and ReplicaSets asked for.
type Metrics struct {
	owned.Metrics
	Created prometheus.Counter
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Metrics: owned.NewTimedMetrics("deployment", "Deployment"),
		Created: prometheus.NewCounter(prometheus.CounterOpts{Name: "controller_deployment_replicasets_created_total", Help: "ReplicaSets the Deployment controller asked to create."}),
	}
	owned.Register(reg, append(m.Collectors(), m.Created)...)
	return m
}
