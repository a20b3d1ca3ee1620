package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/bus"
)

// QueryTop asks for the latest usage every node's agent published.
const QueryTop = "top"

// TopResponse is the latest usage of each node, by node name.
type TopResponse struct {
	Nodes []bus.NodeUsage `json:"nodes"`
}

// Usage keeps the latest usage each agent published on its metrics
// subject (metrics are not events: nothing of this is stored), and
// answers `gantry top`.
type Usage struct {
	mu     sync.RWMutex
	latest map[string]bus.NodeUsage
}

// NewUsage makes an empty usage view.
func NewUsage() *Usage { return &Usage{latest: map[string]bus.NodeUsage{}} }

// Observe records one published sample.
func (u *Usage) Observe(s bus.NodeUsage) {
	u.mu.Lock()
	if cur, ok := u.latest[s.Node]; !ok || !s.Time.Before(cur.Time) {
		u.latest[s.Node] = s
	}
	u.mu.Unlock()
}

// Latest is every node's latest sample, by node name.
func (u *Usage) Latest() []bus.NodeUsage {
	u.mu.RLock()
	out := make([]bus.NodeUsage, 0, len(u.latest))
	for _, s := range u.latest {
		out = append(out, s)
	}
	u.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// Serve follows the agents' metrics and answers top queries until ctx ends.
func (u *Usage) Serve(ctx context.Context, c *bus.Conn) error {
	metrics, err := c.NC.Subscribe(bus.AllMetrics, func(m *nats.Msg) {
		var s bus.NodeUsage
		if json.Unmarshal(m.Data, &s) == nil && s.Node != "" {
			u.Observe(s)
		}
	})
	if err != nil {
		return fmt.Errorf("projections: metrics: %w", err)
	}
	top, err := c.NC.QueueSubscribe(bus.QuerySubject(QueryTop), bus.QueryQueue, func(m *nats.Msg) {
		body, _ := json.Marshal(TopResponse{Nodes: u.Latest()})
		_ = m.Respond(body)
	})
	if err != nil {
		_ = metrics.Unsubscribe()
		return fmt.Errorf("projections: serve top: %w", err)
	}
	<-ctx.Done()
	_ = top.Drain()
	_ = metrics.Drain()
	return nil
}
