package projections_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
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
	"github.com/nats-io/nats-server/v2/server"
)

var (
	benchObjects = flag.Int("objects", 100_000, "objects BenchmarkMemory creates")
	planeHeap    = flag.String("planeheap", "", "write heap profiles of BenchmarkMemory/plane, while it holds the objects, to this file (and, with -settle, to FILE.settled after the idle)")
	settle       = flag.Duration("settle", 0, "BenchmarkMemory/plane: measure again after the control plane idled this long")
	// memClientProcess: the clients of `gantry up` are other processes.
	memClientProcess = flag.Bool("memclientprocess", true, "BenchmarkMemory/plane*: send the creates from a child process over loopback TCP (false: from 16 in-process connections of the benchmark's own process)")
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
//	       service; no workers) taking -objects create commands from 16 clients
//	       (connections of a child process over loopback TCP, as the CLI's
//	       and the agents' are: what they allocate is not the plane's;
//	       -memclientprocess=false sends from this process instead);
//	       creates/s is their rate, kv-lag-s how long after the last reply the
//	       state bucket's checkpoint reached it; with -settle, heap and RSS
//	       are measured again after the plane idled that long. It runs with
//	       the GOGC gantry up sets (upGCPercent) unless GOGC is set.
//	plane-restart  the same plane after a restart: a first plane creates
//	       the objects and stops; a second one on the same data directory
//	       rebuilds them (start-s: from its server's start to its View at
//	       the last event) and is measured from before its server started,
//	       less what an empty plane costs.
//
// Metrics: json-B (mean object JSON), heap-B/obj and rss-B/obj (delta ÷
// objects), heap-over-B/obj and rss-over-B/obj (the same minus json-B),
// live-over-B/obj (the live objects, HeapAlloc, minus json-B: heap-over
// minus live-over is spans kept in use by a few live objects among freed
// ones); for plane also cpu-µs/create (this process's CPU time while the
// creates ran and were projected: the plane's, and the clients' only with
// -memclientprocess=false), alloc-B/create (bytes allocated) and the
// settled-* figures.
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
	b.Run("plane-restart", func(b *testing.B) {
		for range b.N {
			benchRestartMemory(b, *benchObjects)
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
	objs := localPlan(objects) // before the measurement starts: they are the benchmark's, not the plane's
	p := startMemPlane(b, b.TempDir())
	defer p.stop()
	p.follow()
	before := measure()
	cpu0, alloc0 := cpuTime(), totalAlloc()
	b.ResetTimer()
	_, sent := p.create(b, objects, objs)
	b.StopTimer()
	b.ReportMetric(float64(gc), "gogc")
	b.ReportMetric(float64(objects)/sent.Seconds(), "creates/s")
	b.ReportMetric((b.Elapsed() - sent).Seconds(), "kv-lag-s") // from the last reply to the checkpoint
	// The whole process's CPU (clients, plane, GC) while the creates ran and were projected.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(objects), "cpu-µs/create")
	b.ReportMetric(float64(totalAlloc()-alloc0)/float64(objects), "alloc-B/create") // what the collector has to clear
	after := measure()
	reportMemory(b, p.view, before, after)
	writeHeapProfile(b, *planeHeap)
	settleAndMeasure(b, p.view, before)
	runtime.KeepAlive(objs)
}

// benchRestartMemory: the plane holding objects it rebuilt from the stream
// and the state bucket on start, as `gantry up` after a restart: the
// objects are created by one plane, which stops, and measured in a second
// one on the same data directory once its View reached the last event,
// less what an empty plane costs.
func benchRestartMemory(b *testing.B, objects int) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(upGCPercent))
	}
	dir := b.TempDir()
	objs := localPlan(objects)
	first := startMemPlane(b, dir)
	first.follow()
	last, _ := first.create(b, objects, objs)
	first.stop()
	// What a plane holding nothing costs (the server, the schemas, the
	// connections) is not per object: an empty plane measures it. The
	// server recovers each stream's subject index as it starts, so the
	// measurement starts before the server does.
	empty := measure()
	e := startMemPlane(b, b.TempDir())
	e.follow()
	fixed := measure()
	e.stop()
	before := measure()
	before.heap += fixed.heap - empty.heap
	before.live += fixed.live - empty.live
	before.rss += fixed.rss - empty.rss
	b.ResetTimer()
	p := startMemPlane(b, dir)
	defer p.stop()
	p.follow()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer wcancel()
	if err := p.view.WaitFor(wctx, last); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds(), "start-s") // from the server's start to the View at the last event
	after := measure()
	reportMemory(b, p.view, before, after)
	writeHeapProfile(b, *planeHeap)
	settleAndMeasure(b, p.view, before)
	runtime.KeepAlive(objs)
}

// settleAndMeasure, with -settle, measures again after the plane idled.
func settleAndMeasure(b *testing.B, view *projections.View, before memSample) {
	if *settle <= 0 {
		return
	}
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

// planObjects decides the kind, namespace and name of each object to
// create; the service decides the objects.
func planObjects(objects int) []*genObject {
	g := newGenPlan(11)
	objs := make([]*genObject, objects)
	for i := range objs {
		g.create()
		objs[i] = g.objects[i]
	}
	return objs
}

// memPlane is what `gantry up` runs of the control plane, in this process:
// embedded JetStream on a data directory, the command service (validator,
// sealer) and the query service on an in-process connection, the projector
// on a loopback TCP one; no workers, no dashboard.
type memPlane struct {
	ns             *server.Server
	conn, projConn *bus.Conn
	clients        []*bus.Conn
	view           *projections.View
	proj           *projections.Projector
	ctx            context.Context
	cancel         context.CancelFunc
	wg             sync.WaitGroup
}

// memClients is how many clients send the creates.
const memClients = 16

func startMemPlane(b *testing.B, dir string) *memPlane {
	ctx, cancel := context.WithCancel(context.Background())
	p := &memPlane{ctx: ctx, cancel: cancel}
	var err error
	if p.ns, err = bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: dir}); err != nil {
		b.Fatal(err)
	}
	if p.conn, err = bus.ConnectInProcess(p.ns, "gantry-up"); err != nil {
		b.Fatal(err)
	}
	if p.projConn, err = bus.ConnectLocal(p.ns, "gantry-up-projector"); err != nil {
		b.Fatal(err)
	}
	if err := p.conn.Bootstrap(ctx); err != nil {
		b.Fatal(err)
	}
	sealer, _ := seal.New(bytes.Repeat([]byte{9}, 32), rand.Reader)
	validator, err := schemas.NewValidator()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := service.New(ctx, p.conn, service.Options{Sealer: sealer, Validator: validator})
	if err != nil {
		b.Fatal(err)
	}
	p.view = projections.NewView(sealer)
	if p.proj, err = projections.NewProjector(ctx, p.projConn, p.view, sealer); err != nil {
		b.Fatal(err)
	}
	queries := projections.NewQueries(p.view, p.proj.Store(), aggregates.Builtin(), sealer)
	for _, run := range []func() error{
		func() error { return svc.Run(ctx) },
		func() error { return queries.Serve(ctx, p.conn) },
	} {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); _ = run() }()
	}
	if *memClientProcess {
		return p // the clients connect from their own process
	}
	p.clients = make([]*bus.Conn, memClients)
	for i := range p.clients {
		if p.clients[i], err = bus.ConnectInProcess(p.ns, "client-"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// follow starts the projector: it catches up with the stream, then follows it.
func (p *memPlane) follow() {
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = p.proj.Run(p.ctx) }()
}

func (p *memPlane) stop() {
	p.cancel()
	p.wg.Wait()
	for _, c := range p.clients {
		c.Close()
	}
	p.conn.Close()
	p.projConn.Close()
	p.ns.Shutdown()
	p.ns.WaitForShutdown()
}

// localPlan is planObjects when this process sends the creates; with
// -memclientprocess the client process decides them itself.
func localPlan(objects int) []*genObject {
	if *memClientProcess {
		return nil
	}
	return planObjects(objects)
}

// create sends one create per object of planObjects(objects) (after the
// ten namespaces; objs is that plan when this process sends them) and
// waits until the View and the state bucket hold the last; it returns the
// last event's sequence and when the last reply came, counted from the
// benchmark's timer.
func (p *memPlane) create(b *testing.B, objects int, objs []*genObject) (last uint64, sent time.Duration) {
	var err error
	if *memClientProcess {
		last, err = createFromProcess(p.ns.ClientURL(), objects)
	} else {
		last, err = sendCreates(p.clients, objs)
	}
	sent = b.Elapsed()
	if err != nil {
		b.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer wcancel()
	if err := p.view.WaitFor(wctx, last); err != nil {
		b.Fatal(err)
	}
	waitCheckpoint(b, p.conn, last)
	return last, sent
}

// sendCreates sends one create per object (after the ten namespaces) from
// one client per connection, memClients at once, and returns the last
// event's sequence.
func sendCreates(conns []*bus.Conn, objs []*genObject) (last uint64, err error) {
	ctx := context.Background()
	cl := bus.NewClient(conns[0], bus.Identity{Source: "user/bench"})
	for i := range 10 {
		name := "ns-" + strconv.Itoa(i)
		if err := doRetry(cl, "namespace", aggregates.Command{Name: name, Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + name + `"}}`)}); err != nil {
			return 0, err
		}
	}
	var next, max atomic.Int64
	var firstErr atomic.Value
	var cw sync.WaitGroup
	for _, c := range conns {
		cl := bus.NewClient(c, bus.Identity{Source: "user/bench"})
		cw.Add(1)
		go func() {
			defer cw.Done()
			for {
				j := int(next.Add(1)) - 1
				if j >= len(objs) {
					return
				}
				o := objs[j]
				r, err := cl.Do(ctx, o.kind, aggregates.VerbCreate, aggregates.Command{Namespace: o.ns, Name: o.name, Object: manifestFor(o)}, bus.CommandMeta{})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				for s := max.Load(); int64(r.Seq) > s && !max.CompareAndSwap(s, int64(r.Seq)); s = max.Load() {
				}
			}
		}()
	}
	cw.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return uint64(max.Load()), nil
}

// The memory benchmark's client process: the test binary run again with
// these set, for TestMemoryBenchClients alone.
const (
	clientURLEnv     = "GANTRY_MEMBENCH_URL"
	clientObjectsEnv = "GANTRY_MEMBENCH_OBJECTS"
	clientLastPrefix = "gantry-membench-last "
)

// createFromProcess sends the creates of planObjects(objects) from a child
// process over loopback TCP, as `gantry up`'s clients (the CLI, agents)
// do: what they allocate is not the plane's. It returns the last event's
// sequence.
func createFromProcess(url string, objects int) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMemoryBenchClients$", "-test.count=1")
	cmd.Env = append(os.Environ(), clientURLEnv+"="+url, clientObjectsEnv+"="+strconv.Itoa(objects), "GOGC=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil { // Run waits for the child: nothing outlives it
		return 0, fmt.Errorf("client process: %w: %s", err, out.Bytes())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, clientLastPrefix); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("client process: no %q line: %s", clientLastPrefix, out.Bytes())
}

// TestMemoryBenchClients is BenchmarkMemory's client process (see
// createFromProcess); run on its own it does nothing.
func TestMemoryBenchClients(t *testing.T) {
	url := os.Getenv(clientURLEnv)
	if url == "" {
		t.Skip("the client process of BenchmarkMemory/plane: run by it")
	}
	objects, err := strconv.Atoi(os.Getenv(clientObjectsEnv))
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*bus.Conn, memClients)
	for i := range conns {
		if conns[i], err = bus.Connect(url, "client-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close()
	}
	last, err := sendCreates(conns, planObjects(objects))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%d\n", clientLastPrefix, last)
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
