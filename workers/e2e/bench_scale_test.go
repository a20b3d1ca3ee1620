package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/hollow"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/controllers/nodelifecycle"
)

// BenchmarkScheduling30000Pods is BenchmarkScheduling1000Nodes at the
// issue's size (GANTRY_BENCH_PODS overrides 30,000), with the process's
// CPU seconds and peak memory over the whole run (node start-up and the
// raw publish rate included) and the machine's load beside them.
func BenchmarkScheduling30000Pods(b *testing.B) {
	total := envInt("GANTRY_BENCH_PODS", 30000)
	for b.Loop() {
		m := startMeter()
		runSchedulingBench(b, 1000, total, 1000)
		m.stop().report(b, "whole run")
	}
}

// BenchmarkDeployment10000Replicas: 1,000 hollow nodes (GANTRY_BENCH_NODES)
// and the scheduler, replicaset, deployment and the other controllers of
// `gantry up`; one Deployment of 10,000 replicas (GANTRY_BENCH_REPLICAS) is
// applied and the clock runs until every pod is Running (hollow nodes
// report a bound pod Running at once), then until the Deployment's status
// shows them all available. Reported: the wall time to each milestone, the
// process's CPU seconds and peak memory from the apply to the end (the
// control plane, the embedded NATS server and the hollow nodes share the
// process), and the machine's load.
func BenchmarkDeployment10000Replicas(b *testing.B) {
	nodes := envInt("GANTRY_BENCH_NODES", 1000)
	replicas := envInt("GANTRY_BENCH_REPLICAS", 10000)
	for b.Loop() {
		runDeploymentBench(b, nodes, replicas)
	}
}

func runDeploymentBench(b *testing.B, nodes, replicas int) {
	c := startCluster(b, options{controllers: true, lifecycle: nodelifecycle.DefaultConfig(),
		hollow: hollow.Options{CPU: "64", Memory: "256Gi", Pods: 110, LeaseEvery: 10 * time.Second, Parallel: 512}})
	start := time.Now()
	c.startFleet("hollow", nodes, 2*time.Minute)
	b.Logf("%d hollow nodes registered and ready in %s", nodes, time.Since(start).Round(time.Millisecond))

	pods := newPodTally(c)
	m := startMeter()
	t0 := time.Now()
	c.apply("deployment", "default", "big", fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"big"},
"spec":{"replicas":%d,"selector":{"matchLabels":{"app":"big"}},
"template":{"metadata":{"labels":{"app":"big"}},"spec":{"containers":[{"name":"c","image":"pause:3","resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]}}}}`, replicas))
	c.waitFor(20*time.Minute, fmt.Sprintf("%d pods Running", replicas), func() bool { return pods.running.Load() >= int64(replicas) })
	running := time.Since(t0)
	var d appsv1.Deployment
	c.waitFor(5*time.Minute, "deployment status all available", func() bool {
		return c.get("deployment", "default", "big", &d) && d.Status.AvailableReplicas == int32(replicas) && d.Status.UpdatedReplicas == int32(replicas)
	})
	available := time.Since(t0)
	u := m.stop()
	writeHeapProfile(b)
	created, bound := pods.milestones(t0)

	b.ReportMetric(running.Seconds(), "s-to-all-running")
	b.ReportMetric(available.Seconds(), "s-to-status-available")
	b.ReportMetric(float64(replicas)/running.Seconds(), "pods-running/s")
	u.report(b, "apply → status available")
	b.Logf("deployment of %d replicas on %d nodes: all pods created %s, bound %s, Running %s, status %d/%d available %s after the apply (%d pods seen, %d changes)",
		replicas, nodes, created.Round(time.Millisecond), bound.Round(time.Millisecond), running.Round(time.Millisecond),
		d.Status.AvailableReplicas, replicas, available.Round(time.Millisecond), pods.seen(), pods.changes.Load())
}

// startFleet starts n hollow nodes and waits (up to timeout) for them to
// be Ready in the view, counting them as they change rather than listing
// every node at every event.
func (c *cluster) startFleet(prefix string, n int, timeout time.Duration) {
	c.t.Helper()
	var mu sync.Mutex
	ready := map[string]bool{}
	c.watch(func(ch projections.Change) {
		if ch.Kind != "node" || !strings.HasPrefix(ch.Name, prefix+"-") {
			return
		}
		var node corev1.Node
		ok := !ch.Deleted && json.Unmarshal(ch.Raw, &node) == nil && nodeReady(&node)
		mu.Lock()
		ready[ch.Name] = ok
		mu.Unlock()
	})
	if _, err := c.fleet.Start(c.ctx, prefix, n); err != nil {
		c.t.Fatal(err)
	}
	c.waitFor(timeout, fmt.Sprintf("%d %s nodes ready", n, prefix), func() bool {
		mu.Lock()
		defer mu.Unlock()
		k := 0
		for _, ok := range ready {
			if ok {
				k++
			}
		}
		return k >= n
	})
}

// podTally follows pods off the projector's goroutine: the watch only
// queues the change; one goroutine decodes it and keeps the counts.
type podTally struct {
	queue   chan projections.Change
	changes atomic.Int64
	running atomic.Int64

	mu                      sync.Mutex
	state                   map[string]podState
	lastCreated, lastBound  time.Time
	nCreated, nBound, nSeen int
}

type podState struct{ bound, running bool }

func newPodTally(c *cluster) *podTally {
	p := &podTally{queue: make(chan projections.Change, 1<<16), state: map[string]podState{}}
	c.watch(func(ch projections.Change) {
		if ch.Kind == "pod" {
			p.changes.Add(1)
			select {
			case p.queue <- ch:
			case <-c.ctx.Done():
			}
		}
	})
	c.run(func() {
		for {
			select {
			case ch := <-p.queue:
				p.fold(ch)
			case <-c.ctx.Done():
				return
			}
		}
	})
	return p
}

func (p *podTally) fold(ch projections.Change) {
	var pod struct {
		Metadata struct {
			DeletionTimestamp *string `json:"deletionTimestamp"`
		} `json:"metadata"`
		Spec   struct{ NodeName string } `json:"spec"`
		Status struct{ Phase string }    `json:"status"`
	}
	_ = json.Unmarshal(ch.Raw, &pod)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	old, known := p.state[ch.Name]
	if !known {
		p.nCreated++
		p.lastCreated = now
	}
	st := podState{
		bound:   pod.Spec.NodeName != "",
		running: !ch.Deleted && pod.Metadata.DeletionTimestamp == nil && pod.Status.Phase == string(corev1.PodRunning),
	}
	if st.bound && !old.bound {
		p.nBound++
		p.lastBound = now
	}
	if st.running != old.running {
		if st.running {
			p.running.Add(1)
		} else {
			p.running.Add(-1)
		}
	}
	p.state[ch.Name] = st
}

// milestones: when the last pod was first seen and first seen bound.
func (p *podTally) milestones(t0 time.Time) (created, bound time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastCreated.Sub(t0), p.lastBound.Sub(t0)
}

func (p *podTally) seen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.state)
}

// meter measures this process between start and stop: CPU from
// getrusage, peak RSS from VmHWM (reset at start through clear_refs), the
// peak Go heap sampled every 100ms, and the whole machine's busy CPU from
// /proc/stat, so the CPU other processes took is known.
type meter struct {
	start   time.Time
	ru      unix.Rusage
	busy    float64
	load    string
	done    chan struct{}
	sampled chan uint64
}

// usage is what a meter measured.
type usage struct {
	wall, user, sys, machineBusy float64
	hwm, peakHeap                uint64
	loadStart, loadEnd           string
}

func startMeter() *meter {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // VmHWM := VmRSS
	m := &meter{start: time.Now(), busy: machineBusy(), load: loadavg(), done: make(chan struct{}), sampled: make(chan uint64, 1)}
	_ = unix.Getrusage(unix.RUSAGE_SELF, &m.ru)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-tick.C:
			case <-m.done:
				m.sampled <- peak
				return
			}
		}
	}()
	return m
}

func (m *meter) stop() usage {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	close(m.done)
	u := usage{
		wall:        time.Since(m.start).Seconds(),
		user:        tvSeconds(ru.Utime) - tvSeconds(m.ru.Utime),
		sys:         tvSeconds(ru.Stime) - tvSeconds(m.ru.Stime),
		machineBusy: machineBusy() - m.busy,
		hwm:         procStatusKB("VmHWM") << 10,
		peakHeap:    <-m.sampled,
		loadStart:   m.load,
		loadEnd:     loadavg(),
	}
	return u
}

func (u usage) report(b *testing.B, span string) {
	cpu := u.user + u.sys
	b.ReportMetric(cpu, "cpu-s")
	b.ReportMetric(float64(u.hwm)/(1<<20), "MiB-peak-rss")
	b.ReportMetric(float64(u.peakHeap)/(1<<20), "MiB-peak-heap")
	b.Logf("%s: %.1f s wall, process CPU %.1f s (user %.1f, sys %.1f; %.2f cores busy on average), peak RSS %d MiB, peak Go heap %d MiB; "+
		"the machine was busy %.1f CPU-s in that time, %.1f of them other processes'; load average %s at the start, %s at the end",
		span, u.wall, cpu, u.user, u.sys, cpu/u.wall, u.hwm>>20, u.peakHeap>>20,
		u.machineBusy, max(0, u.machineBusy-cpu), u.loadStart, u.loadEnd)
}

func tvSeconds(tv unix.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// machineBusy is the CPU seconds every core has spent not idle since boot.
func machineBusy() float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	f := strings.Fields(string(line)) // cpu user nice system idle iowait irq softirq steal …
	var busy float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i != 3 && i != 4 && i < 8 { // not idle, not iowait, not guest (already in user)
			busy += n
		}
	}
	return busy / 100 // USER_HZ
}

func loadavg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// procStatusKB reads one "kB" field of /proc/self/status.
func procStatusKB(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// writeHeapProfile writes the live heap to $GANTRY_BENCH_HEAPPROFILE, if
// set, while the cluster still holds everything (-memprofile is written
// after cleanup, when it no longer does).
func writeHeapProfile(b *testing.B) {
	path := os.Getenv("GANTRY_BENCH_HEAPPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkSchedulingBacklog separates binding from creating: pods
// (GANTRY_BENCH_PODS, default 30,000) are created while the cluster has no
// node, so each stays Pending ("0/0 nodes are available"); then 1,000
// hollow nodes register and the clock runs from the first registration to
// the last bound event. Reported: pods bound per second (median of the
// one-second buckets, and overall), the process CPU over the drain, and the
// create rate of the first phase for comparison.
func BenchmarkSchedulingBacklog(b *testing.B) {
	total := envInt("GANTRY_BENCH_PODS", 30000)
	for b.Loop() {
		runBacklogBench(b, 1000, total)
	}
}

func runBacklogBench(b *testing.B, nodes, total int) {
	c := startCluster(b, options{hollow: hollow.Options{CPU: "64", Memory: "256Gi", Pods: 110, LeaseEvery: 10 * time.Second, Parallel: 512}})
	var mu sync.Mutex
	var bound []time.Time
	var pending atomic.Int64
	verbs := map[string]int{} // pod changes by verb, under mu
	c.watch(func(ch projections.Change) {
		if ch.Kind != "pod" {
			return
		}
		mu.Lock()
		verbs[ch.Verb]++
		mu.Unlock()
		switch ch.Verb {
		case aggregates.Bound:
			mu.Lock()
			bound = append(bound, time.Now())
			mu.Unlock()
		case aggregates.Created:
			pending.Add(1)
		}
	})
	t0 := time.Now()
	createPods(b, c, "backlog", total, 1000)
	c.waitFor(5*time.Minute, fmt.Sprintf("%d pods in the view", total), func() bool { return pending.Load() >= int64(total) })
	created := time.Since(t0)
	c.sync()
	mu.Lock()
	before := maps.Clone(verbs)
	mu.Unlock()

	m := startMeter()
	t1 := time.Now()
	c.startFleet("hollow", nodes, 2*time.Minute)
	ready := time.Since(t1)
	c.waitFor(10*time.Minute, fmt.Sprintf("%d pods bound", total), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(bound) >= total
	})
	u := m.stop()
	mu.Lock()
	defer mu.Unlock()
	last := bound[len(bound)-1]
	perSec := perSecond(bound, t1)
	median := float64(perSec[len(perSec)/2])
	overall := float64(total) / last.Sub(t1).Seconds()
	b.ReportMetric(median, "bound/s(median)")
	b.ReportMetric(overall, "bound/s(overall)")
	b.ReportMetric(float64(total)/created.Seconds(), "created/s")
	u.report(b, "drain")
	b.Logf("%d pending pods created in %s (%.0f/s); %d nodes ready %s after the first registered; all bound %s after it: bound/s median %.0f, overall %.0f (sorted buckets %v)",
		total, created.Round(time.Millisecond), float64(total)/created.Seconds(), nodes, ready.Round(time.Millisecond),
		last.Sub(t1).Round(time.Millisecond), median, overall, perSec)
	b.Logf("pod events while pending: %v; during the drain: %v", before, countsSince(verbs, before))
}

func countsSince(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// createPods sends n pod creates (prefix-00000…) through the command
// service in bursts, 256 in flight, as the scheduling benchmark does.
func createPods(b *testing.B, c *cluster, prefix string, n, burst int) {
	for sent := 0; sent < n; sent += burst {
		g, ctx := errgroup.WithContext(c.ctx)
		g.SetLimit(256)
		for i := sent; i < min(sent+burst, n); i++ {
			name := fmt.Sprintf("%s-%05d", prefix, i)
			g.Go(func() error {
				obj := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `","labels":{"app":"bench"}},` +
					`"spec":{"containers":[{"name":"c","image":"pause:3","resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]}}`)
				_, err := c.client.Do(ctx, "pod", aggregates.VerbCreate, aggregates.Command{Namespace: "default", Name: name, Object: obj}, bus.CommandMeta{})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// perSecond counts the times in each whole second from t0 to the last one
// (the last, partial second left out unless it is the only one) and
// returns the counts sorted.
func perSecond(at []time.Time, t0 time.Time) []int {
	buckets := map[int]int{}
	last := 0
	for _, t := range at {
		i := int(t.Sub(t0) / time.Second)
		buckets[i]++
		last = max(last, i)
	}
	var out []int
	for i := 0; i < last || (i == 0 && last == 0); i++ {
		out = append(out, buckets[i])
	}
	slices.Sort(out)
	return out
}
