package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gantry-sh/gantry/bus"
)

// The usage an agent publishes, as bus defines it.
type (
	NodeUsage      = bus.NodeUsage
	PodUsage       = bus.PodUsage
	ContainerUsage = bus.ContainerUsage
)

type cpuSample struct {
	nanos uint64
	at    time.Time
}

// publishMetrics samples every pod's cgroups each MetricsInterval.
func (a *Agent) publishMetrics(ctx context.Context) error {
	prev := map[string]cpuSample{}
	for sleepCtx(ctx, a.cfg.MetricsInterval) {
		u, next := a.sample(ctx, prev)
		prev = next
		b, _ := json.Marshal(u)
		if err := a.conn.NC.Publish(bus.MetricsSubject(a.cfg.NodeName), b); err != nil {
			a.cfg.Log.Warn("agent: publish metrics", "err", err)
		}
	}
	return nil
}

func (a *Agent) sample(ctx context.Context, prev map[string]cpuSample) (NodeUsage, map[string]cpuSample) {
	now := a.cfg.Clock.Now()
	out := NodeUsage{Node: a.cfg.NodeName, Time: now.UTC(), Pods: []PodUsage{}}
	next := map[string]cpuSample{}
	usage, err := a.rt.Usage(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.cfg.Log.Warn("agent: container usage", "err", err)
		}
		return out, prev
	}
	for _, w := range a.podWorkers() {
		pod, gone := w.snapshot()
		cs := usage[w.uid]
		if gone || len(cs) == 0 {
			continue
		}
		pu := PodUsage{Namespace: pod.Namespace, Name: pod.Name, UID: w.uid}
		for _, c := range cs {
			key := w.uid + "/" + c.Name
			cu := ContainerUsage{Name: c.Name, CPUNanos: c.CPUNanos, MemoryBytes: c.MemoryBytes}
			if p, ok := prev[key]; ok && c.CPUNanos >= p.nanos && now.After(p.at) {
				cu.CPUMillicores = int64(float64(c.CPUNanos-p.nanos) / float64(now.Sub(p.at).Nanoseconds()) * 1000)
			}
			next[key] = cpuSample{nanos: c.CPUNanos, at: now}
			pu.Containers = append(pu.Containers, cu)
		}
		out.Pods = append(out.Pods, pu)
	}
	return out, next
}

func (a *Agent) podWorkers() []*podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		out = append(out, w)
	}
	return out
}
