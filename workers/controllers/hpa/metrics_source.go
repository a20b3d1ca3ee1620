package hpa

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/bus"
)

// The usage an agent publishes, as bus defines it.
type (
	NodeUsage      = bus.NodeUsage
	PodUsage       = bus.PodUsage
	ContainerUsage = bus.ContainerUsage
)

// PodMetric is a pod's latest usage, its containers summed.
type PodMetric struct {
	CPUMillicores int64
	MemoryBytes   int64
	Time          time.Time
}

// MetricsSource gives the latest usage of a namespace's pods, by name.
type MetricsSource interface {
	PodMetrics(namespace string) map[string]PodMetric
}

// BusMetrics keeps the latest sample of every pod from the agents' metrics
// subjects (plain NATS, bus.AllMetrics).
type BusMetrics struct {
	maxAge func() time.Duration
	now    func() time.Time
	mu     sync.Mutex
	pods   map[string]map[string]PodMetric // namespace → name
	sub    *nats.Subscription
}

// NewBusMetrics subscribes to every node's metrics; samples older than
// maxAge are dropped. Close the result to unsubscribe.
func NewBusMetrics(conn *bus.Conn, maxAge time.Duration) (*BusMetrics, error) {
	m := &BusMetrics{maxAge: func() time.Duration { return maxAge }, now: time.Now, pods: map[string]map[string]PodMetric{}}
	sub, err := conn.NC.Subscribe(bus.AllMetrics, func(msg *nats.Msg) {
		var u NodeUsage
		if json.Unmarshal(msg.Data, &u) == nil {
			m.Add(u)
		}
	})
	m.sub = sub
	return m, err
}

// Add folds one node's sample.
func (m *BusMetrics) Add(u NodeUsage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range u.Pods {
		var pm PodMetric
		for _, c := range p.Containers {
			pm.CPUMillicores += c.CPUMillicores
			pm.MemoryBytes += int64(c.MemoryBytes)
		}
		pm.Time = u.Time
		ns := m.pods[p.Namespace]
		if ns == nil {
			ns = map[string]PodMetric{}
			m.pods[p.Namespace] = ns
		}
		ns[p.Name] = pm
	}
}

// PodMetrics returns the namespace's fresh samples.
func (m *BusMetrics) PodMetrics(namespace string) map[string]PodMetric {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]PodMetric{}
	cutoff := m.now().Add(-m.maxAge())
	for name, pm := range m.pods[namespace] {
		if pm.Time.After(cutoff) {
			out[name] = pm
		} else {
			delete(m.pods[namespace], name)
		}
	}
	return out
}

// Close unsubscribes.
func (m *BusMetrics) Close() error {
	if m.sub == nil {
		return nil
	}
	return m.sub.Unsubscribe()
}
