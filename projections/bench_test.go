package projections_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// -events sets how many events BenchmarkRebuild generates; the record in
// BENCHMARKS.md is run with -events 1000000.
var (
	benchEvents = flag.Int("events", 200_000, "events BenchmarkRebuild generates (one object per 10 events)")
	meterCPU    = flag.String("metercpu", "", "BenchmarkRebuild: profile the CPU of each sub-benchmark's last timed part to FILE.<sub-benchmark>")
)

// BenchmarkRebuild measures folding a generated stream from a cold start.
// The stream (see genPlan: one object created per ten events, the rest
// scaled, labeled or status-changed) is published once, asynchronously
// with every acknowledgement checked, then each sub-benchmark reports
// events/s, and the process's CPU time per event (cpu-us/event, the
// embedded server's included: steadier than events/s on a shared machine):
//
//	fold              View.Fold over envelopes decoded beforehand
//	replay            Store.Replay alone (fetch and decode, no fold)
//	replay-data       Store.ReplayData alone (what a fold needs decoded)
//	replay-fold       Store.ReplayData + Fold (projections.At at the head)
//	catchup-fresh-kv  Projector.CatchUp, empty state bucket (writes every object)
//	catchup-at-head   Projector.CatchUp, bucket checkpoint already at the head
//
// Run: go test ./projections -run '^$' -bench Rebuild -benchtime 1x -events 1000000
func BenchmarkRebuild(b *testing.B) {
	ctx := context.Background()
	s := startStore(b)
	t0 := time.Now()
	info := s.generate(b, *benchEvents)
	gen := time.Since(t0)
	b.Logf("generated %d events on %d objects (%d B of event JSON, %.0f B/event) in %s: %.0f events/s published",
		info.events, info.objects, info.bytes, float64(info.bytes)/float64(info.events), gen.Round(time.Millisecond), float64(info.events)/gen.Seconds())
	head, _, err := s.store.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("fold", func(b *testing.B) {
		m := startMeter(b)
		m.stop()
		var events []bus.Envelope
		if err := s.store.Replay(ctx, nil, 1, head, func(e bus.Envelope) error { events = append(events, e); return nil }); err != nil {
			b.Fatal(err)
		}
		m.start()
		for range b.N {
			v := projections.NewView(nil)
			for _, e := range events {
				if err := v.Fold(e); err != nil {
					b.Fatal(err)
				}
			}
		}
		m.report(len(events))
	})
	for _, r := range []struct {
		name   string
		replay func(context.Context, []string, uint64, uint64, func(bus.Envelope) error) error
	}{{"replay", s.store.Replay}, {"replay-data", s.store.ReplayData}} {
		b.Run(r.name, func(b *testing.B) {
			m := startMeter(b)
			for range b.N {
				n := 0
				if err := r.replay(ctx, nil, 1, head, func(bus.Envelope) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
				if uint64(n) != head {
					b.Fatalf("replayed %d of %d", n, head)
				}
			}
			m.report(int(head))
		})
	}
	b.Run("replay-fold", func(b *testing.B) {
		m := startMeter(b)
		for range b.N {
			v, err := projections.At(ctx, s.store, nil, head)
			if err != nil {
				b.Fatal(err)
			}
			if v.Len() != info.objects {
				b.Fatalf("view holds %d objects, want %d", v.Len(), info.objects)
			}
		}
		m.report(int(head))
	})
	b.Run("catchup-fresh-kv", func(b *testing.B) {
		m := startMeter(b)
		for range b.N {
			m.stop()
			s.resetBuckets(b)
			p, v := s.projector(b)
			m.start()
			if err := p.CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
			if v.Len() != info.objects {
				b.Fatalf("view holds %d objects, want %d", v.Len(), info.objects)
			}
		}
		m.report(int(head))
	})
	b.Run("catchup-at-head", func(b *testing.B) {
		m := startMeter(b)
		m.stop()
		p, _ := s.projector(b)
		if err := p.CatchUp(ctx); err != nil { // the checkpoint reaches the head
			b.Fatal(err)
		}
		m.start()
		var v *projections.View
		for range b.N {
			var p *projections.Projector
			p, v = s.projector(b)
			if err := p.CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
		}
		m.report(int(head))
		// The View's memory once folded, beyond its objects' JSON: the
		// heap in use with it, less without it; and the dead bytes its
		// arena holds beside the objects.
		live, dead := projections.ArenaBytes(v)
		b.ReportMetric(100*float64(dead)/float64(live), "arena-dead-%")
		n, jsonB := float64(v.Len()), meanJSON(v)
		with := measure()
		runtime.KeepAlive(v)
		v = nil
		without := measure()
		b.ReportMetric((float64(with.heap)-float64(without.heap))/n-jsonB, "view-heap-over-B/obj")
	})
}

// meter follows the benchmark timer and adds up the process's CPU time
// while it runs: every goroutine's, the embedded server's included. On a
// shared machine the events/s swing with the load; CPU µs per event
// (cpu-us/event) is the steadier figure to compare builds by.
type meter struct {
	b          *testing.B
	cpu, at    time.Duration
	alloc, al0 uint64
	profile    *os.File
}

func startMeter(b *testing.B) *meter {
	m := &meter{b: b}
	m.begin()
	return m
}

func (m *meter) stop() {
	m.b.StopTimer()
	m.cpu += processCPU(m.b) - m.at
	m.alloc += totalAlloc() - m.al0
	if m.profile != nil {
		pprof.StopCPUProfile()
		m.profile.Close()
	}
}

func (m *meter) start() {
	m.begin()
	m.b.StartTimer()
}

func (m *meter) begin() {
	if *meterCPU != "" {
		f, err := os.OpenFile(*meterCPU+"."+strings.ReplaceAll(m.b.Name(), "/", "-"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644) // the last timed part stays
		if err != nil {
			m.b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			m.b.Fatal(err)
		}
		m.profile = f
	}
	m.at, m.al0 = processCPU(m.b), totalAlloc()
}

// report stops the meter and reports events/s, CPU µs and bytes allocated
// per event.
func (m *meter) report(events int) {
	m.stop()
	n := float64(events) * float64(m.b.N)
	m.b.ReportMetric(n/m.b.Elapsed().Seconds(), "events/s")
	m.b.ReportMetric(float64(m.cpu.Microseconds())/n, "cpu-us/event")
	m.b.ReportMetric(float64(m.alloc)/n, "alloc-B/event")
	m.b.ReportMetric(float64(events), "events")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchStore is an embedded JetStream with the Gantry streams and buckets.
type benchStore struct {
	ns    *server.Server
	conn  *bus.Conn
	store *bus.Store
}

func startStore(b *testing.B) *benchStore {
	b.Helper()
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	conn, err := bus.ConnectLocal(ns, "bench") // as gantry up
	if os.Getenv("GANTRY_BENCH_INPROCESS") != "" {
		conn, err = bus.ConnectInProcess(ns, "bench")
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(); ns.Shutdown(); ns.WaitForShutdown() })
	if err := conn.Bootstrap(context.Background()); err != nil {
		b.Fatal(err)
	}
	store, err := bus.NewStore(context.Background(), conn)
	if err != nil {
		b.Fatal(err)
	}
	return &benchStore{ns: ns, conn: conn, store: store}
}

func (s *benchStore) projector(b *testing.B) (*projections.Projector, *projections.View) {
	v := projections.NewView(nil)
	p, err := projections.NewProjector(context.Background(), s.conn, v, nil)
	if err != nil {
		b.Fatal(err)
	}
	return p, v
}

// resetBuckets empties the state buckets, as on a first start.
func (s *benchStore) resetBuckets(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{bus.StateBucket, bus.NodePodsBucket} {
		if err := s.conn.JS.DeleteKeyValue(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.conn.Bootstrap(ctx); err != nil {
		b.Fatal(err)
	}
}

type genInfo struct {
	events, objects int
	bytes           int64
}

// generate publishes n events (see genPlan) with asynchronous publishes,
// checking every acknowledgement. Envelopes are encoded by bus (the same
// code the command service appends with), two goroutines at a time.
func (s *benchStore) generate(b *testing.B, n int) genInfo {
	g := newGenPlan(42)
	info := genInfo{}
	const chunk = 2000 // below the default limit of outstanding async publishes (4000)
	bodies := make([][]byte, chunk)
	for done := 0; done < n; {
		m := min(chunk, n-done)
		planned := make([]planned, m)
		for i := range planned {
			planned[i] = g.next()
		}
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < m; i += 2 {
					body, err := planned[i].env.Marshal()
					if err != nil {
						panic(err)
					}
					bodies[i] = body
				}
			}()
		}
		wg.Wait()
		acks := make([]jetstream.PubAckFuture, m)
		for i := range m {
			msg := &nats.Msg{Subject: planned[i].subject, Data: bodies[i], Header: nats.Header{"Content-Type": []string{bus.ContentType}}}
			f, err := s.conn.JS.PublishMsgAsync(msg, jetstream.WithMsgID(planned[i].env.ID))
			if err != nil {
				b.Fatalf("publish %d: %v", done+i, err)
			}
			acks[i] = f
			info.bytes += int64(len(bodies[i]))
		}
		for i, f := range acks {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatalf("event %d not stored: %v", done+i, err)
			case <-time.After(30 * time.Second):
				b.Fatalf("event %d: no acknowledgement in 30s", done+i)
			}
		}
		done += m
	}
	info.events, info.objects = n, len(g.objects)
	return info
}

// genPlan decides the events: about one in ten creates an object (40%
// pods, 30% deployments, 30% configmaps, over ten namespaces); the rest
// change a random existing object: a deployment is scaled (40%), labeled
// (20%) or gets a new status (40%); a pod gets a new status (70%) or
// labels (30%); a configmap gets labels.
type genPlan struct {
	rng      *rand.Rand
	kinds    *aggregates.Registry
	objects  []*genObject
	created  int
	template map[string][]byte // kind → created object JSON, name "NAME", namespace "NS"
}

type genObject struct {
	kind, ns, name string
	replicas       int32
	generation     int64
}

type planned struct {
	subject string
	env     bus.Envelope
}

func newGenPlan(seed uint64) *genPlan {
	return &genPlan{rng: rand.New(rand.NewPCG(seed, seed)), kinds: aggregates.Builtin()}
}

var benchTime = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func (g *genPlan) next() planned {
	if len(g.objects) == 0 || g.rng.IntN(10) == 0 {
		return g.create()
	}
	o := g.objects[g.rng.IntN(len(g.objects))]
	roll := g.rng.IntN(10)
	switch {
	case o.kind == "deployment" && roll < 4:
		prev := o.replicas
		o.replicas = prev%5 + 1
		o.generation++
		return g.event(o, aggregates.Scaled, aggregates.ScaledData{Replicas: o.replicas, Previous: prev, Generation: o.generation})
	case o.kind == "deployment" && roll < 8:
		return g.event(o, aggregates.StatusChanged, aggregates.StatusData{Status: deploymentStatus(o, g.rng.IntN(int(o.replicas)+1))})
	case o.kind == "pod" && roll < 7:
		return g.event(o, aggregates.StatusChanged, aggregates.StatusData{Status: podStatus(g.rng.IntN(3))})
	}
	v := "v" + strconv.Itoa(g.rng.IntN(100))
	return g.event(o, aggregates.Labeled, aggregates.LabeledData{Labels: map[string]*string{"rev": &v}})
}

func (g *genPlan) create() planned {
	kinds := []string{"pod", "pod", "pod", "pod", "deployment", "deployment", "deployment", "configmap", "configmap", "configmap"}
	o := &genObject{kind: kinds[g.rng.IntN(len(kinds))], ns: "ns-" + strconv.Itoa(g.rng.IntN(10)),
		name: "obj-" + strconv.Itoa(g.created), replicas: 3, generation: 1}
	g.created++
	g.objects = append(g.objects, o)
	data := g.createdObject(o)
	return g.event(o, aggregates.Created, json.RawMessage(data))
}

// createdObject runs Decide on a create command, so the object is what the
// command service would store (defaults, uid, creation time).
func (g *genPlan) createdObject(o *genObject) []byte {
	k, _ := g.kinds.Lookup(o.kind)
	d, err := aggregates.Decide(k, aggregates.State{}, aggregates.Command{Kind: o.kind, Verb: aggregates.VerbCreate, Namespace: o.ns, Name: o.name, Object: manifestFor(o)},
		aggregates.Env{Now: benchTime, NewUID: uuid.NewString})
	if err != nil {
		panic(fmt.Sprintf("create %s %s: %v", o.kind, o.name, err))
	}
	return d.Event.Data
}

func manifestFor(o *genObject) []byte {
	switch o.kind {
	case "pod":
		return fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":%q,"labels":{"app":"web","pod-template-hash":"5d8f7c9b6"}},
"spec":{"containers":[{"name":"web","image":"registry.local/web:1.4.2","command":["/bin/httpd","-f","-p","8080"],"ports":[{"containerPort":8080,"name":"http"}],
"env":[{"name":"MODE","value":"production"}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"memory":"128Mi"}}}]}}`, o.name, o.ns)
	case "deployment":
		return fmt.Appendf(nil, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q,"namespace":%q,"labels":{"app":%q}},
"spec":{"replicas":3,"selector":{"matchLabels":{"app":%q}},"template":{"metadata":{"labels":{"app":%q}},
"spec":{"containers":[{"name":"web","image":"registry.local/web:1.4.2","ports":[{"containerPort":8080}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}}}`,
			o.name, o.ns, o.name, o.name, o.name)
	}
	return fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":%q,"labels":{"app":"web"}},"data":{"app.conf":%q}}`,
		o.name, o.ns, configPayload)
}

var configPayload = func() string {
	s := ""
	for i := 0; len(s) < 400; i++ {
		s += "key" + strconv.Itoa(i) + " = value-" + strconv.Itoa(i*7919) + "\n"
	}
	return s
}()

func deploymentStatus(o *genObject, ready int) json.RawMessage {
	return fmt.Appendf(nil, `{"observedGeneration":%d,"replicas":%d,"updatedReplicas":%d,"readyReplicas":%d,"availableReplicas":%d,
"conditions":[{"type":"Available","status":"True","lastUpdateTime":"2026-11-22T10:00:00Z","lastTransitionTime":"2026-11-22T10:00:00Z","reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."}]}`,
		o.generation, o.replicas, o.replicas, ready, ready)
}

func podStatus(phase int) json.RawMessage {
	p := []string{"Pending", "Running", "Succeeded"}[phase]
	return fmt.Appendf(nil, `{"phase":%q,"podIP":"10.42.3.17","hostIP":"192.168.1.20","startTime":"2026-11-22T10:00:00Z",
"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-11-22T10:00:01Z"}],
"containerStatuses":[{"name":"web","ready":true,"restartCount":0,"image":"registry.local/web:1.4.2","imageID":"sha256:4f2b3c","state":{"running":{"startedAt":"2026-11-22T10:00:01Z"}}}]}`, p)
}

func (g *genPlan) event(o *genObject, verb string, data any) planned {
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			panic(err)
		}
	}
	cmdID := uuid.NewString()
	return planned{
		subject: bus.EventSubject(o.kind, o.ns, o.name),
		env: bus.Envelope{
			ID: uuid.NewString(), Source: "gantry/bench", Type: bus.EventType(o.kind, verb),
			Subject: o.kind + "/" + o.ns + "/" + o.name, Time: benchTime,
			Actor: "gantry/bench", CausationID: cmdID, CorrelationID: cmdID, Data: raw,
		},
	}
}
