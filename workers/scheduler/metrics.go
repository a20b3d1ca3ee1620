package scheduler

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the scheduler loop's Prometheus metrics.
type Metrics struct {
	Pending   prometheus.Gauge
	Attempts  *prometheus.CounterVec
	Duration  prometheus.Histogram
	CacheNode prometheus.Gauge
}

// NewMetrics makes the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "scheduler_pending_pods", Help: "Pods waiting for a node."}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scheduler_schedule_attempts_total",
			Help: "Scheduling outcomes: scheduled, unschedulable, conflict, error."}, []string{"result"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "scheduler_scheduling_duration_seconds",
			Help: "Time to decide one batch of pods.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		CacheNode: prometheus.NewGauge(prometheus.GaugeOpts{Name: "scheduler_cache_nodes", Help: "Nodes in the scheduler cache."}),
	}
	if reg != nil {
		reg.MustRegister(m.Pending, m.Attempts, m.Duration, m.CacheNode)
	}
	return m
}

func (m *Metrics) observeQueues(pending int, c *Cache) {
	m.Pending.Set(float64(pending))
	m.CacheNode.Set(float64(c.NodeCount()))
}

func (m *Metrics) observeBatch(bound, failed int, d time.Duration) {
	if bound+failed > 0 {
		m.Duration.Observe(d.Seconds())
	}
}
