package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-sh/gantry/agentd/hollow"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// BenchmarkScheduling1000Nodes: 1,000 hollow nodes, pods created in bursts
// of 1,000 (GANTRY_BENCH_PODS in all, default 5,000) through the command
// service; it reports pods bound per second (median of the one-second
// buckets between the first and the last bind), the p50/p99 time from a
// pod's create command to its bound event in the view, and beside them the
// rate at which the same server takes one plain JetStream publish per pod
// (async, file store), measured in the same run.
func BenchmarkScheduling1000Nodes(b *testing.B) {
	total := 5000
	if v, err := strconv.Atoi(os.Getenv("GANTRY_BENCH_PODS")); err == nil && v > 0 {
		total = v
	}
	for b.Loop() {
		runSchedulingBench(b, 1000, total, 1000)
	}
}

func runSchedulingBench(b *testing.B, nodes, total, burst int) {
	c := startCluster(b, options{hollow: hollow.Options{CPU: "64", Memory: "256Gi", Pods: 110, LeaseEvery: 10 * time.Second, Parallel: 512}})
	start := time.Now()
	c.startNodes("hollow", nodes)
	b.Logf("%d hollow nodes registered and ready in %s", nodes, time.Since(start).Round(time.Millisecond))

	raw := rawPublishRate(b, c, total)

	var mu sync.Mutex
	created := make(map[string]time.Time, total)
	bound := make(map[string]time.Time, total)
	c.watch(func(ch projections.Change) {
		if ch.Kind == "pod" && ch.Verb == aggregates.Bound {
			now := time.Now()
			mu.Lock()
			bound[ch.Name] = now
			mu.Unlock()
		}
	})
	pod := func(name string) []byte {
		return []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `","labels":{"app":"bench"}},` +
			`"spec":{"containers":[{"name":"c","image":"pause:3","resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]}}`)
	}
	t0 := time.Now()
	for sent := 0; sent < total; sent += burst {
		g, ctx := errgroup.WithContext(c.ctx)
		g.SetLimit(256)
		for i := sent; i < min(sent+burst, total); i++ {
			name := fmt.Sprintf("bench-%05d", i)
			g.Go(func() error {
				mu.Lock()
				created[name] = time.Now()
				mu.Unlock()
				_, err := c.client.Do(ctx, "pod", aggregates.VerbCreate, aggregates.Command{Namespace: "default", Name: name, Object: pod(name)}, bus.CommandMeta{})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	createdIn := time.Since(t0)
	c.waitFor(5*time.Minute, fmt.Sprintf("%d pods bound", total), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(bound) >= total
	})
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	var first, last time.Time
	for name, at := range bound {
		lat = append(lat, at.Sub(created[name]))
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	slices.Sort(lat)
	buckets := map[int]int{}
	for _, at := range bound {
		buckets[int(at.Sub(first)/time.Second)]++
	}
	var perSec []int
	for i := 0; i <= int(last.Sub(first)/time.Second); i++ {
		if i < int(last.Sub(first)/time.Second) || len(buckets) == 1 { // the last second is partial
			perSec = append(perSec, buckets[i])
		}
	}
	slices.Sort(perSec)
	median := float64(perSec[len(perSec)/2])
	overall := float64(total) / last.Sub(t0).Seconds()
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(median, "bound/s(median)")
	b.ReportMetric(overall, "bound/s(overall)")
	b.ReportMetric(float64(p(0.50).Milliseconds()), "ms-p50-create→bound")
	b.ReportMetric(float64(p(0.99).Milliseconds()), "ms-p99-create→bound")
	b.ReportMetric(raw, "raw-publish/s")
	b.ReportMetric(median/raw, "ratio(median/raw)")
	b.Logf("%d pods on %d nodes: created in %s, all bound %s after the first create; bound/s median %.0f (buckets %v), overall %.0f; create→bound p50 %s p99 %s max %s; raw JetStream publish %.0f/s; ratio %.3f",
		total, nodes, createdIn.Round(time.Millisecond), last.Sub(t0).Round(time.Millisecond), median, perSec, overall,
		p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), raw, median/raw)
}

// rawPublishRate publishes n pod-sized messages, one per subject, to a
// file-store stream of the same server, 4,096 in flight, and returns the
// rate acknowledged.
func rawPublishRate(b *testing.B, c *cluster, n int) float64 {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Minute)
	defer cancel()
	if _, err := c.conn.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_RAW", Subjects: []string{"bench.raw.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.conn.JS.DeleteStream(context.Background(), "BENCH_RAW") }()
	body := make([]byte, 900) // about a created pod event
	for i := range body {
		body[i] = 'x'
	}
	start := time.Now()
	for i := range n {
		if _, err := c.conn.JS.PublishAsync(fmt.Sprintf("bench.raw.%d", i), body, jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-c.conn.JS.PublishAsyncComplete():
	case <-ctx.Done():
		b.Fatal("raw publishes not acknowledged in 2m")
	}
	return float64(n) / time.Since(start).Seconds()
}
