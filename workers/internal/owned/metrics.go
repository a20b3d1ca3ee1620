package owned

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are what every owner loop counts, named controller_<worker>_…:
// reconciles by result and, for the loops that time them, their duration.
type Metrics struct {
	Reconciles *prometheus.CounterVec // by result: ok, error, invalid
	Duration   prometheus.Histogram   // nil unless made by NewTimedMetrics
}

// NewMetrics makes controller_<worker>_reconciles_total; kind is the
// owner's Kind, for the help text.
func NewMetrics(worker, kind string) Metrics {
	return Metrics{Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "controller_" + worker + "_reconciles_total", Help: kind + " reconciles by result.",
	}, []string{"result"})}
}

// NewTimedMetrics is NewMetrics with controller_<worker>_reconcile_duration_seconds.
func NewTimedMetrics(worker, kind string) Metrics {
	m := NewMetrics(worker, kind)
	m.Duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "controller_" + worker + "_reconcile_duration_seconds", Help: "Time to reconcile one " + kind + ", commands included.",
	})
	return m
}

// Collectors are the metrics made, for registration.
func (m Metrics) Collectors() []prometheus.Collector {
	if m.Duration == nil {
		return []prometheus.Collector{m.Reconciles}
	}
	return []prometheus.Collector{m.Reconciles, m.Duration}
}

// Invalid counts a reconcile the owner's own spec made impossible.
func (m Metrics) Invalid() { m.Reconciles.WithLabelValues("invalid").Inc() }

// Observe records the time since start, if the metrics are timed.
func (m Metrics) Observe(start time.Time) {
	if m.Duration != nil {
		m.Duration.Observe(time.Since(start).Seconds())
	}
}

// Result counts a finished reconcile as "ok" or "error" and returns err.
func (m Metrics) Result(err error) error {
	if err != nil {
		m.Reconciles.WithLabelValues("error").Inc()
		return err
	}
	m.Reconciles.WithLabelValues("ok").Inc()
	return nil
}

// Register registers cs on reg; a nil reg leaves them unregistered.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) {
	if reg != nil {
		reg.MustRegister(cs...)
	}
}
