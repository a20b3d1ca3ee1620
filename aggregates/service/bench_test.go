package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/schemas"
)

// BenchmarkCommands measures accepted commands per second end to end
// (CloudEvent request → decode → schema → Decide → append with the
// expected last subject sequence → reply) against raw synchronous
// JetStream publishes of messages the size of the stored event, to the
// same server, in the same run (alternating rounds of each). Every client and every raw publisher has a
// connection of its own; the command service is connected in-process, as
// in `gantry up`. Metrics:
//
//	cmds/s    accepted commands per second, all clients together
//	raw/s     synchronous publishes per second, as many publishers as clients
//	cmd/raw   cmds/s ÷ raw/s at the same concurrency
//	cmd/raw1  cmds/s ÷ raw/s of one publisher (measured in clients=1)
//	p50-µs, p99-µs  command round trip
//	evt-B     size of the stored event (and of each raw message)
//
// Clients send as every Gantry client does, without headers, so answers
// come without the object; -cmdobject asks for it in every answer
// (bus.WantObjectHeader).
//
// Run: go test ./aggregates/service -run '^$' -bench Commands -benchtime 3000x
func BenchmarkCommands(b *testing.B) {
	for _, transport := range []string{"inproc", "tcp"} {
		b.Run(transport, func(b *testing.B) {
			p := startPlane(b, transport)
			for _, op := range benchOps {
				for _, n := range []int{1, 4, 16, 64} {
					b.Run(fmt.Sprintf("%s/clients=%d", op.name, n), func(b *testing.B) {
						p.run(b, op, n, false)
					})
				}
			}
		})
	}
}

// BenchmarkCommandsOneConnection: one client — one NATS connection, as
// one `gantry` process or one controller has — with several commands in
// flight on it (a window of 16 or 64 goroutines sharing the connection,
// each on its own object), against one synchronous raw publisher of
// same-sized messages in alternating rounds. cmd/raw1 is the ratio the
// issue's goal names (≥ 0.5 of raw synchronous publish, one client).
//
//	go test ./aggregates/service -run '^$' -bench CommandsOneConnection -benchtime 4000x
func BenchmarkCommandsOneConnection(b *testing.B) {
	for _, transport := range []string{"inproc", "tcp"} {
		b.Run(transport, func(b *testing.B) {
			p := startPlane(b, transport)
			for _, op := range benchOps {
				for _, window := range []int{1, 16, 64} {
					b.Run(fmt.Sprintf("%s/inflight=%d", op.name, window), func(b *testing.B) {
						p.run(b, op, window, true)
					})
				}
			}
		})
	}
}

var benchObject = flag.Bool("cmdobject", false, "commands ask for the object in every answer (bus.CommandMeta.WantObject)")

const (
	benchNS      = "bench"
	benchObjects = 64 // one deployment per client
)

type benchOp struct {
	name, kind, verb string
	// command for client i, its k-th call.
	command func(p *plane, client int, k int64) aggregates.Command
	subject func(p *plane, client int) string // an event subject it wrote
	event   string                            // the verb every accepted command must cause
}

var benchOps = []benchOp{
	{
		name: "scale", kind: "deployment", verb: aggregates.VerbScale, event: aggregates.Scaled,
		command: func(_ *plane, i int, k int64) aggregates.Command {
			r := int32(k%2 + 1) // 1, 2, 1, …: always a change (created with 3)
			return aggregates.Command{Namespace: benchNS, Name: deployName(i), Replicas: &r}
		},
		subject: func(_ *plane, i int) string { return bus.EventSubject("deployment", benchNS, deployName(i)) },
	},
	{
		name: "label", kind: "deployment", verb: aggregates.VerbLabel, event: aggregates.Labeled,
		command: func(_ *plane, i int, k int64) aggregates.Command {
			v := "r" + strconv.FormatInt(k, 10)
			return aggregates.Command{Namespace: benchNS, Name: deployName(i), Labels: map[string]*string{"rev": &v}}
		},
		subject: func(_ *plane, i int) string { return bus.EventSubject("deployment", benchNS, deployName(i)) },
	},
	{
		name: "create-configmap", kind: "configmap", verb: aggregates.VerbCreate, event: aggregates.Created,
		command: func(p *plane, _ int, _ int64) aggregates.Command {
			name := "cm-" + strconv.FormatInt(p.cmSeq.Add(1), 10)
			return aggregates.Command{Namespace: benchNS, Name: name, Object: configMap(name)}
		},
		subject: func(p *plane, _ int) string {
			return bus.EventSubject("configmap", benchNS, "cm-"+strconv.FormatInt(p.cmSeq.Load(), 10))
		},
	},
}

func deployName(i int) string { return "d" + strconv.Itoa(i) }

// configMapPayload makes a ConfigMap's data about 512 bytes.
var configMapPayload = strings.Repeat("0123456789abcdef", 30)

// configMapTail is the part of every benchmark ConfigMap after its name,
// quoted once: quoting the payload for each command cost a sender 6 µs,
// time a raw publisher, whose payload is made before the clock starts,
// does not spend.
var configMapTail = `,"namespace":` + strconv.Quote(benchNS) + `,"labels":{"app":"bench"}},"data":{"payload":` + strconv.Quote(configMapPayload) + `}}`

func configMap(name string) []byte {
	b := make([]byte, 0, 64+len(name)+len(configMapTail))
	b = append(b, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":`...)
	b = strconv.AppendQuote(b, name)
	return append(b, configMapTail...)
}

func deployment(name string) []byte {
	return fmt.Appendf(nil, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q,"namespace":%q,"labels":{"app":%q}},
"spec":{"replicas":3,"selector":{"matchLabels":{"app":%q}},"template":{"metadata":{"labels":{"app":%q}},
"spec":{"containers":[{"name":"web","image":"busybox:1","ports":[{"containerPort":8080}]}]}}}}`, name, benchNS, name, name, name)
}

// plane is a command service on an embedded JetStream, with clients.
type plane struct {
	ns        *server.Server
	transport string
	counters  [benchObjects]atomic.Int64 // per deployment: commands sent
	cmSeq     atomic.Int64
	clients   []*bus.Conn
	raw1      map[string]float64 // op → raw/s of one publisher
}

func startPlane(b *testing.B, transport string) *plane {
	b.Helper()
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	p := &plane{ns: ns, transport: transport, raw1: map[string]float64{}}
	conn, err := bus.ConnectInProcess(ns, "service")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := conn.Bootstrap(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: "BENCH_RAW", Subjects: []string{"bench.raw.>"}, Storage: jetstream.FileStorage,
	}); err != nil {
		b.Fatal(err)
	}
	sealer, _ := seal.New(bytes.Repeat([]byte{7}, 32), rand.Reader)
	validator, err := schemas.NewValidator()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := service.New(ctx, conn, service.Options{Sealer: sealer, Validator: validator})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	b.Cleanup(func() {
		cancel()
		<-done
		for _, c := range p.clients {
			c.Close()
		}
		conn.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	p.connect(b, benchObjects)
	cl := bus.NewClient(p.clients[0], bus.Identity{Source: "user/bench"})
	waitForService(b, cl)
	mustDo(b, cl, "namespace", "create", aggregates.Command{Name: benchNS, Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + benchNS + `"}}`)})
	for i := range benchObjects {
		mustDo(b, cl, "deployment", "create", aggregates.Command{Namespace: benchNS, Name: deployName(i), Object: deployment(deployName(i))})
	}
	return p
}

func waitForService(b *testing.B, cl *bus.Client) {
	for range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cl.Do(ctx, "namespace", "label", aggregates.Command{Name: "none"}, bus.CommandMeta{})
		cancel()
		if err != nil && !strings.Contains(err.Error(), "nothing answers") {
			return // a refusal: the service answers
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatal("command service never answered")
}

func mustDo(b *testing.B, cl *bus.Client, kind, verb string, c aggregates.Command) bus.Reply {
	b.Helper()
	r, err := cl.Do(context.Background(), kind, verb, c, bus.CommandMeta{})
	if err != nil {
		b.Fatalf("%s %s %s: %v", verb, kind, c.Name, err)
	}
	return r
}

// connect opens connections until there are n, in-process or over loopback TCP.
func (p *plane) connect(b *testing.B, n int) {
	for len(p.clients) < n {
		var c *bus.Conn
		var err error
		name := "client-" + strconv.Itoa(len(p.clients))
		if p.transport == "tcp" {
			c, err = bus.Connect(p.ns.ClientURL(), name)
		} else {
			c, err = bus.ConnectInProcess(p.ns, name)
		}
		if err != nil {
			b.Fatal(err)
		}
		p.clients = append(p.clients, c)
	}
}

// run alternates rounds of commands and of raw publishes (so a noisy
// neighbour hits both alike) and reports their rates: n clients with
// connections of their own against n raw publishers, or, shared, n
// senders on one connection against one raw publisher.
func (p *plane) run(b *testing.B, op benchOp, n int, shared bool) {
	const rounds = 4
	per := max(1, b.N/n/rounds)
	var lat []time.Duration
	var cmdTime, rawTime time.Duration
	size := 0
	b.ResetTimer()
	for range rounds {
		took, l := p.commandRound(b, op, n, per, shared)
		cmdTime += took
		lat = append(lat, l...)
		b.StopTimer()
		if size == 0 {
			size = p.eventSize(b, op.subject(p, 0))
		}
		if shared {
			rawTime += p.rawPublish(b, 1, per*n, size)
		} else {
			rawTime += p.rawPublish(b, n, per, size)
		}
		b.StartTimer()
	}
	b.StopTimer()
	total := float64(per * n * rounds)
	cmds, raw := total/cmdTime.Seconds(), total/rawTime.Seconds()
	slices.Sort(lat)
	b.ReportMetric(cmds, "cmds/s")
	switch {
	case shared:
		b.ReportMetric(raw, "raw1/s")
		b.ReportMetric(cmds/raw, "cmd/raw1")
	default:
		if n == 1 {
			p.raw1[op.name] = raw
		}
		b.ReportMetric(raw, "raw/s")
		b.ReportMetric(cmds/raw, "cmd/raw")
		if r1 := p.raw1[op.name]; r1 > 0 {
			b.ReportMetric(cmds/r1, "cmd/raw1")
		}
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(size), "evt-B")
}

// commandRound sends per commands from each of n senders, on
// connections of their own or all on the first when shared, and returns
// how long it took and every round trip.
func (p *plane) commandRound(b *testing.B, op benchOp, n, per int, shared bool) (time.Duration, []time.Duration) {
	lat := make([][]time.Duration, n)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		conn := p.clients[i]
		if shared {
			conn = p.clients[0]
		}
		cl := bus.NewClient(conn, bus.Identity{Source: "user/bench"})
		lat[i] = make([]time.Duration, 0, per)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				c := op.command(p, i, p.counters[i].Add(1))
				t0 := time.Now()
				r, err := cl.Do(context.Background(), op.kind, op.verb, c, bus.CommandMeta{WantObject: *benchObject})
				lat[i] = append(lat[i], time.Since(t0))
				if err == nil && r.Event != op.event {
					err = fmt.Errorf("%s %s: reply %+v, want event %s", op.verb, c.Name, r, op.event)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := firstErr.Load(); err != nil {
		b.Fatal(err)
	}
	return took, slices.Concat(lat...)
}

// eventSize is the size of the last stored event on subject.
func (p *plane) eventSize(b *testing.B, subject string) int {
	s, err := p.clients[0].JS.Stream(context.Background(), bus.EventsStream)
	if err != nil {
		b.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		b.Fatalf("last of %s: %v", subject, err)
	}
	return len(m.Data)
}

// rawPublish sends per messages of size bytes from each of n synchronous
// publishers, each on a subject and connection of its own, and returns how
// long it took.
func (p *plane) rawPublish(b *testing.B, n, per, size int) time.Duration {
	body := bytes.Repeat([]byte{'x'}, size)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		js := p.clients[i].JS
		subject := "bench.raw." + strconv.Itoa(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if _, err := js.Publish(context.Background(), subject, body); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := firstErr.Load(); err != nil {
		b.Fatal(err)
	}
	return elapsed
}
