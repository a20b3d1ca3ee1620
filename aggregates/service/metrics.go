package service

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-sh/gantry/bus"
)

// Metrics of the command service.
type Metrics struct {
	Commands             *prometheus.CounterVec
	AppendSeconds        prometheus.Histogram
	CommandSeconds       prometheus.Histogram
	Retries              prometheus.Counter
	RejectRecordFailures prometheus.Counter

	counters sync.Map // [4]string labels → Commands' counter
}

// NewMetrics registers the metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_commands_total", Help: "Commands answered, by kind, verb, result (accepted, unchanged, rejected) and reason.",
		}, []string{"kind", "verb", "result", "reason"}),
		AppendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gantry_append_seconds", Help: "Time to append one event to GANTRY_EVENTS.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		CommandSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gantry_command_seconds", Help: "Time from receiving a command to replying.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		Retries:              prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_command_conflict_retries_total", Help: "Commands decided again after a concurrent write."}),
		RejectRecordFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_rejected_record_failures_total", Help: "Refusals that could not be recorded on GANTRY_REJECTED."}),
	}
	if reg != nil {
		reg.MustRegister(m.Commands, m.AppendSeconds, m.CommandSeconds, m.Retries, m.RejectRecordFailures)
	}
	return m
}

func (m *Metrics) observe(kind, verb string, r bus.Reply, took time.Duration) {
	result, reason := "accepted", ""
	switch {
	case r.Status != nil:
		result, reason = "rejected", string(r.Status.Reason)
	case r.Unchanged:
		result = "unchanged"
	}
	m.counter(kind, verb, result, reason).Inc()
	m.CommandSeconds.Observe(took.Seconds())
}

// counter is Commands' counter of these labels, found once: prometheus
// hashes and matches the four values under a lock shared by every lane
// each time it is asked.
func (m *Metrics) counter(kind, verb, result, reason string) prometheus.Counter {
	key := [4]string{kind, verb, result, reason}
	if c, ok := m.counters.Load(key); ok {
		return c.(prometheus.Counter)
	}
	c, _ := m.counters.LoadOrStore(key, m.Commands.WithLabelValues(kind, verb, result, reason))
	return c.(prometheus.Counter)
}
