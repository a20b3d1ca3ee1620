package projections_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/schemas"
)

var (
	benchObjects = flag.Int("objects", 100_000, "objects BenchmarkMemory creates")
	planeHeap    = flag.String("planeheap", "", "write heap profiles of BenchmarkMemory/plane, while it holds the objects, to this file (and, with -settle, to FILE.settled after the idle)")
	settle       = flag.Duration("settle", 0, "BenchmarkMemory/plane: measure again after the control plane idled this long")
)

// BenchmarkMemory measures what holding objects costs, beyond their JSON:
// heap in use (runtime.ReadMemStats) and resident memory (VmRSS), each
// after a forced GC that returns freed memory to the OS, before and after,
// divided by the object count. Objects are the creates of genPlan (40%
// pods, 30% deployments, 30% configmaps).
//
//	view   a View folding -objects created events (decoded one by one, as a replay does)
//	plane  a `gantry up`-like control plane in this process (embedded
//	       JetStream, command service, projector with its state bucket, query
//	       service; no workers) taking -objects create commands from 16 clients;
//	       creates/s is their rate, kv-lag-s how long after the last reply the
//	       state bucket's checkpoint reached it; with -settle, heap and RSS
//	       are measured again after the plane idled that long. It runs with
//	       the GOGC gantry up sets (upGCPercent) unless GOGC is set.
//
// Metrics: json-B (mean object JSON), heap-B/obj and rss-B/obj (delta ÷
// objects), heap-over-B/obj and rss-over-B/obj (the same minus json-B),
// live-over-B/obj (the live objects, HeapAlloc, minus json-B: heap-over
// minus live-over is spans kept in use by a few live objects among freed
// ones); for plane also cpu-µs/create (the process's CPU time while the
// creates ran and were projected) and the settled-* figures.
//
// Run: go test ./projections -run '^$' -bench Memory -benchtime 1x -objects 100000
func BenchmarkMemory(b *testing.B) {
	if *planeHeap != "" {
		runtime.MemProfileRate = 4096 // per-object costs are a few hundred bytes: the default (512 KiB) is too coarse to tell them apart
	}
	b.Run("view", func(b *testing.B) {
		g := newGenPlan(7)
		type stored struct {
			subject string
			body    []byte
		}
		events := make([]stored, *benchObjects)
		for i := range events {
			p := g.create()
			body, err := p.env.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			events[i] = stored{p.subject, body}
		}
		for range b.N {
			before := measure()
			v := projections.NewView(nil)
			for i, s := range events {
				e, err := bus.UnmarshalEnvelope(s.body)
				if err != nil {
					b.Fatal(err)
				}
				e.Seq, e.StreamSubject = uint64(i+1), s.subject
				if err := v.Fold(e); err != nil {
					b.Fatal(err)
				}
			}
			after := measure()
			reportMemory(b, v, before, after)
			runtime.KeepAlive(events)
		}
	})
	b.Run("plane", func(b *testing.B) {
		for range b.N {
			benchPlaneMemory(b, *benchObjects)
		}
	})
}

// memSample: heap is HeapInuse (spans holding at least one live object,
// what the benchmark reports), live is HeapAlloc (the live objects
// themselves; heap - live is fragmentation), rss is VmRSS.
type memSample struct{ heap, live, rss uint64 }

func measure() memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapInuse, live: ms.HeapAlloc, rss: vmRSS()}
}

// cpuTime is the CPU this process used so far (user and system); unlike
// creates/s it hardly depends on what else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// totalAlloc is the bytes this process allocated on the heap so far.
func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// vmRSS is this process's resident set in bytes, from /proc/self/status.
func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// meanJSON is the mean size of the objects' JSON as v holds them.
func meanJSON(v *projections.View) float64 {
	n, total := 0, 0
	for _, kind := range []string{"pod", "deployment", "configmap"} {
		for _, e := range v.List(kind, "") {
			n++
			total += len(e.Raw)
		}
	}
	if n == 0 {
		return 0
	}
	return float64(total) / float64(n)
}

func reportMemory(b *testing.B, v *projections.View, before, after memSample) {
	n := 0
	for _, kind := range []string{"pod", "deployment", "configmap"} {
		n += len(v.List(kind, ""))
	}
	if n == 0 {
		b.Fatal("the view holds no objects")
	}
	jsonB := meanJSON(v)
	heap := (float64(after.heap) - float64(before.heap)) / float64(n)
	rss := (float64(after.rss) - float64(before.rss)) / float64(n)
	b.ReportMetric(float64(n), "objects")
	b.ReportMetric(jsonB, "json-B")
	b.ReportMetric(heap, "heap-B/obj")
	b.ReportMetric(heap-jsonB, "heap-over-B/obj")
	b.ReportMetric(rss, "rss-B/obj")
	b.ReportMetric(rss-jsonB, "rss-over-B/obj")
	b.ReportMetric((float64(after.live)-float64(before.live))/float64(n)-jsonB, "live-over-B/obj")
	b.ReportMetric(float64(after.heap)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(after.rss)/(1<<20), "rss-MiB")
}

// upGCPercent is the GOGC `gantry up` runs with unless GOGC is set
// (gcPercent in cmd/gantry/cli/up.go, which this package cannot import);
// the plane case runs with it too.
const upGCPercent = 50

func benchPlaneMemory(b *testing.B, objects int) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(upGCPercent))
	}
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	ctx, cancel := context.WithCancel(context.Background())
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	// Two connections, as gantry up: in-process for commands and queries,
	// loopback TCP for the projector.
	conn, err := bus.ConnectInProcess(ns, "gantry-up")
	if err != nil {
		b.Fatal(err)
	}
	projConn, err := bus.ConnectLocal(ns, "gantry-up-projector")
	if err != nil {
		b.Fatal(err)
	}
	if err := conn.Bootstrap(ctx); err != nil {
		b.Fatal(err)
	}
	sealer, _ := seal.New(bytes.Repeat([]byte{9}, 32), rand.Reader)
	validator, err := schemas.NewValidator()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := service.New(ctx, conn, service.Options{Sealer: sealer, Validator: validator})
	if err != nil {
		b.Fatal(err)
	}
	view := projections.NewView(sealer)
	proj, err := projections.NewProjector(ctx, projConn, view, sealer)
	if err != nil {
		b.Fatal(err)
	}
	queries := projections.NewQueries(view, proj.Store(), aggregates.Builtin(), sealer)
	var wg sync.WaitGroup
	for _, run := range []func() error{
		func() error { return svc.Run(ctx) },
		func() error { return queries.Serve(ctx, conn) },
		func() error { return proj.Run(ctx) },
	} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run() }()
	}
	const nClients = 16
	clients := make([]*bus.Conn, nClients)
	for i := range clients {
		if clients[i], err = bus.ConnectInProcess(ns, "client-"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	defer func() {
		cancel()
		wg.Wait()
		for _, c := range clients {
			c.Close()
		}
		conn.Close()
		projConn.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	cl := bus.NewClient(clients[0], bus.Identity{Source: "user/bench"})
	for i := range 10 {
		name := "ns-" + strconv.Itoa(i)
		if err := doRetry(cl, "namespace", aggregates.Command{Name: name, Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + name + `"}}`)}); err != nil {
			b.Fatal(err)
		}
	}
	g := newGenPlan(11)
	objs := make([]*genObject, objects)
	for i := range objs {
		g.create() // decides kind, namespace and name; the service decides the object
		objs[i] = g.objects[i]
	}
	before := measure()
	cpu0, alloc0 := cpuTime(), totalAlloc()
	b.ResetTimer()
	var next, last atomic.Int64
	var firstErr atomic.Value
	var cw sync.WaitGroup
	for i := range nClients {
		cl := bus.NewClient(clients[i], bus.Identity{Source: "user/bench"})
		cw.Add(1)
		go func() {
			defer cw.Done()
			for {
				j := int(next.Add(1)) - 1
				if j >= objects {
					return
				}
				o := objs[j]
				r, err := cl.Do(ctx, o.kind, aggregates.VerbCreate, aggregates.Command{Namespace: o.ns, Name: o.name, Object: manifestFor(o)}, bus.CommandMeta{})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				for s := last.Load(); int64(r.Seq) > s && !last.CompareAndSwap(s, int64(r.Seq)); s = last.Load() {
				}
			}
		}()
	}
	cw.Wait()
	sent := b.Elapsed()
	if err := firstErr.Load(); err != nil {
		b.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer wcancel()
	if err := view.WaitFor(wctx, uint64(last.Load())); err != nil {
		b.Fatal(err)
	}
	waitCheckpoint(b, conn, uint64(last.Load()))
	b.StopTimer()
	b.ReportMetric(float64(gc), "gogc")
	b.ReportMetric(float64(objects)/sent.Seconds(), "creates/s")
	b.ReportMetric((b.Elapsed() - sent).Seconds(), "kv-lag-s") // from the last reply to the checkpoint
	// The whole process's CPU (clients, plane, GC) while the creates ran and were projected.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(objects), "cpu-µs/create")
	b.ReportMetric(float64(totalAlloc()-alloc0)/float64(objects), "alloc-B/create") // what the collector has to clear
	after := measure()
	reportMemory(b, view, before, after)
	writeHeapProfile(b, *planeHeap)
	if *settle > 0 {
		time.Sleep(*settle)
		idle := measure()
		n, jsonB := float64(view.Len()), meanJSON(view)
		b.ReportMetric((float64(idle.heap)-float64(before.heap))/n, "settled-heap-B/obj")
		b.ReportMetric((float64(idle.rss)-float64(before.rss))/n, "settled-rss-B/obj")
		b.ReportMetric((float64(idle.heap)-float64(before.heap))/n-jsonB, "settled-heap-over-B/obj")
		b.ReportMetric((float64(idle.rss)-float64(before.rss))/n-jsonB, "settled-rss-over-B/obj")
		b.ReportMetric((float64(idle.live)-float64(before.live))/n-jsonB, "settled-live-over-B/obj")
		if *planeHeap != "" {
			writeHeapProfile(b, *planeHeap+".settled")
		}
	}
	runtime.KeepAlive(objs)
}

// writeHeapProfile writes the heap as of the last GC (measure ran one) to
// file, if one is named.
func writeHeapProfile(b *testing.B, file string) {
	if file == "" {
		return
	}
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

func doRetry(cl *bus.Client, kind string, c aggregates.Command) error {
	var err error
	for range 100 {
		if _, err = cl.Do(context.Background(), kind, aggregates.VerbCreate, c, bus.CommandMeta{}); err == nil || !strings.Contains(err.Error(), "nothing answers") {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// waitCheckpoint waits until the projector has materialised seq in the
// state bucket (its checkpoint key), so the bucket's cost is counted too.
func waitCheckpoint(b *testing.B, conn *bus.Conn, seq uint64) {
	kv, err := conn.JS.KeyValue(context.Background(), bus.StateBucket)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		e, err := kv.Get(context.Background(), "_checkpoint")
		if err == nil {
			if n, _ := strconv.ParseUint(string(e.Value()), 10, 64); n >= seq {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatal(errors.New("the projector never materialised the last create"))
}
