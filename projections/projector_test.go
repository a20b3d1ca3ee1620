package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

type projBus struct {
	conn   *bus.Conn
	store  *bus.Store
	state  jetstream.KeyValue
	index  jetstream.KeyValue
	seq    map[string]uint64 // subject → last sequence
	events int
}

func startProjBus(t *testing.T) *projBus {
	t.Helper()
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := bus.ConnectInProcess(ns, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); ns.Shutdown(); ns.WaitForShutdown() })
	ctx := context.Background()
	if err := conn.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	store, err := bus.NewStore(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	state, err := conn.JS.KeyValue(ctx, bus.StateBucket)
	if err != nil {
		t.Fatal(err)
	}
	index, err := conn.JS.KeyValue(ctx, bus.NodePodsBucket)
	if err != nil {
		t.Fatal(err)
	}
	return &projBus{conn: conn, store: store, state: state, index: index, seq: map[string]uint64{}}
}

func (b *projBus) emit(t *testing.T, kind, ns, name, verb string, data any) {
	t.Helper()
	raw, ok := data.([]byte)
	if !ok {
		raw, _ = json.Marshal(data)
	}
	subj := bus.EventSubject(kind, ns, name)
	b.events++
	e := bus.Envelope{ID: fmt.Sprintf("ev-%d", b.events), Source: "test", Type: bus.EventType(kind, verb), Data: raw}
	seq, err := b.store.Append(context.Background(), subj, b.seq[subj], e)
	if err != nil {
		t.Fatal(err)
	}
	b.seq[subj] = seq
}

func podJSON(ns, name string) []byte {
	return fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":%q},"spec":{"containers":[{"name":"c","image":"i"}]}}`, name, ns)
}

func cmJSON(ns, name string) []byte {
	return fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":%q},"data":{"k":"v"}}`, name, ns)
}

// workload emits n rounds of a mix: pods created, bound, given a status,
// deleted and recreated on another node; configmaps created, labeled,
// deleted.
func (b *projBus) workload(t *testing.T, rng *rand.Rand, n int) {
	t.Helper()
	live := map[string]bool{}
	node := map[string]string{}
	for range n {
		name := fmt.Sprintf("p%d", rng.IntN(40))
		cm := fmt.Sprintf("c%d", rng.IntN(20))
		switch {
		case !live[name]:
			b.emit(t, "pod", "default", name, aggregates.Created, podJSON("default", name))
			live[name] = true
			node[name] = ""
		case node[name] == "":
			node[name] = fmt.Sprintf("n%d", rng.IntN(4))
			b.emit(t, "pod", "default", name, aggregates.Bound, aggregates.BoundData{NodeName: node[name]})
		case rng.IntN(5) == 0:
			b.emit(t, "pod", "default", name, aggregates.Deleted, map[string]any{})
			live[name] = false
		default:
			b.emit(t, "pod", "default", name, aggregates.StatusChanged, aggregates.StatusData{Status: json.RawMessage(`{"phase":"Running"}`)})
		}
		if live[cm] {
			if rng.IntN(6) == 0 {
				b.emit(t, "configmap", "default", cm, aggregates.Deleted, map[string]any{})
				live[cm] = false
			} else {
				v := strconv.Itoa(rng.IntN(1000))
				b.emit(t, "configmap", "default", cm, aggregates.Labeled, aggregates.LabeledData{Labels: map[string]*string{"v": &v}})
			}
		} else {
			b.emit(t, "configmap", "default", cm, aggregates.Created, cmJSON("default", cm))
			live[cm] = true
		}
	}
}

func (b *projBus) checkpoint(t *testing.T) uint64 {
	e, err := b.state.Get(context.Background(), checkpointKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseUint(string(e.Value()), 10, 64)
	return n
}

// stateSeqs reads every key of a bucket: key → StateValue.Seq.
func stateSeqs(t *testing.T, kv jetstream.KeyValue) map[string]uint64 {
	t.Helper()
	ctx := context.Background()
	out := map[string]uint64{}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		if k == checkpointKey {
			continue
		}
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted since listed
		}
		if err != nil {
			t.Fatal(err)
		}
		var v StateValue
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v.Seq
	}
	return out
}

// wantBuckets is what the state and node-pods buckets must hold for view v.
func wantBuckets(v *View) (state, index map[string]uint64) {
	state, index = map[string]uint64{}, map[string]uint64{}
	for _, kind := range []string{"pod", "configmap"} {
		for _, e := range v.List(kind, "") {
			state[bus.StateKey(kind, e.Namespace, e.Name)] = e.Seq
			if node := nodeOf(e.Raw); kind == "pod" && node != "" {
				index[bus.NodePodKey(node, e.Namespace, e.Name)] = e.Seq
			}
		}
	}
	return state, index
}

// watchForward records, for every key of kv, whether its StateValue.Seq
// ever went back.
func watchForward(t *testing.T, kv jetstream.KeyValue) (check func()) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	last := map[string]uint64{}
	var back []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range w.Updates() {
			if e == nil || e.Key() == checkpointKey || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var v StateValue
			_ = json.Unmarshal(e.Value(), &v)
			mu.Lock()
			if v.Seq < last[e.Key()] {
				back = append(back, fmt.Sprintf("%s: %d after %d", e.Key(), v.Seq, last[e.Key()]))
			}
			last[e.Key()] = v.Seq
			mu.Unlock()
		}
	}()
	return func() {
		_ = w.Stop()
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if len(back) > 0 {
			t.Errorf("%s went back in seq: %v", kv.Bucket(), back)
		}
	}
}

func newTestProjector(t *testing.T, b *projBus, v *View) *Projector {
	p, err := NewProjector(context.Background(), b.conn, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.checkpointEvery, p.checkpointInterval = 50, 20*time.Millisecond
	p.writerOpts = bus.KVWriterOptions{Window: 16} // small: writes queue up and coalesce
	return p
}

// While Run follows a busy stream: the checkpoint never claims an event
// whose writes are not in the buckets, no key goes back in seq, and once
// idle the buckets hold exactly the view (state and node-pods index), with
// the checkpoint at the head, also after Run ends.
func TestProjectorRunMaterialises(t *testing.T) {
	ctx := context.Background()
	b := startProjBus(t)
	checkState, checkIndex := watchForward(t, b.state), watchForward(t, b.index)
	view := NewView(nil)
	p := newTestProjector(t, b, view)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- p.Run(rctx) }()

	rng := rand.New(rand.NewPCG(1, 2))
	checks := 0
	for round := range 8 {
		b.workload(t, rng, 300)
		// The checkpoint's claim holds: every object as of the checkpoint
		// is in the state bucket at least at that version.
		cp := b.checkpoint(t)
		if cp == 0 {
			continue
		}
		at, err := At(ctx, b.store, nil, cp)
		if err != nil {
			t.Fatal(err)
		}
		wantState, wantIndex := wantBuckets(at)
		gotState, gotIndex := stateSeqs(t, b.state), stateSeqs(t, b.index)
		for k, seq := range wantState {
			if _, ok := gotState[k]; !ok { // deleted since? then by a later event
				kind, ns, name, _ := bus.ParseStateKey(k)
				if last, _ := b.store.LastSeq(ctx, bus.EventSubject(kind, ns, name)); last > seq {
					continue
				}
			}
			if gotState[k] < seq {
				t.Fatalf("round %d: checkpoint %d but %s is at %d in the bucket, want ≥ %d", round, cp, k, gotState[k], seq)
			}
		}
		for k, seq := range wantIndex {
			if got, ok := gotIndex[k]; ok && got < seq {
				t.Fatalf("round %d: checkpoint %d but index %s is at %d, want ≥ %d", round, cp, k, got, seq)
			}
		}
		checks++
	}
	if checks == 0 {
		t.Fatal("the checkpoint never moved while events came in")
	}
	head := b.waitCheckpoint(t, 0)
	wantState, wantIndex := wantBuckets(view)
	if got := stateSeqs(t, b.state); !mapsEqual(got, wantState) {
		t.Fatalf("state bucket:\n got %v\nwant %v", got, wantState)
	}
	if got := stateSeqs(t, b.index); !mapsEqual(got, wantIndex) {
		t.Fatalf("node-pods bucket:\n got %v\nwant %v", got, wantIndex)
	}
	// More events, then stop at once: Run's last checkpoint covers them.
	b.workload(t, rng, 50)
	last, _, _ := b.store.Head(ctx)
	if err := view.WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if cp := b.checkpoint(t); cp != last {
		t.Fatalf("checkpoint %d after Run ended, want %d (was %d)", cp, last, head)
	}
	wantState, wantIndex = wantBuckets(view)
	if got := stateSeqs(t, b.state); !mapsEqual(got, wantState) {
		t.Fatalf("state bucket after Run:\n got %v\nwant %v", got, wantState)
	}
	if got := stateSeqs(t, b.index); !mapsEqual(got, wantIndex) {
		t.Fatalf("node-pods bucket after Run:\n got %v\nwant %v", got, wantIndex)
	}
	checkState()
	checkIndex()
}

// waitCheckpoint waits until the checkpoint reaches the head (or at
// least seq) and returns it.
func (b *projBus) waitCheckpoint(t *testing.T, seq uint64) uint64 {
	t.Helper()
	head, _, err := b.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seq = max(seq, head)
	deadline := time.Now().Add(20 * time.Second)
	for {
		cp := b.checkpoint(t)
		if cp >= seq {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint at %d, want %d", cp, seq)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Events stored while no projector ran: CatchUp writes what changed, and
// unindexes pods deleted meanwhile, or recreated on another node, from
// the nodes they were on at the checkpoint.
func TestCatchUpUnindexesPodsMovedWhileDown(t *testing.T) {
	ctx := context.Background()
	b := startProjBus(t)
	for _, name := range []string{"gone", "moved", "stays"} {
		b.emit(t, "pod", "default", name, aggregates.Created, podJSON("default", name))
		b.emit(t, "pod", "default", name, aggregates.Bound, aggregates.BoundData{NodeName: "a"})
	}
	b.emit(t, "configmap", "default", "c", aggregates.Created, cmJSON("default", "c"))
	p := newTestProjector(t, b, NewView(nil))
	if err := p.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(stateSeqs(t, b.index)); !slices.Equal(got, []string{"a.default.gone", "a.default.moved", "a.default.stays"}) {
		t.Fatalf("index after the first catch-up: %v", got)
	}
	// Down: gone is deleted, moved comes back on b, the configmap goes.
	b.emit(t, "pod", "default", "gone", aggregates.Deleted, map[string]any{})
	b.emit(t, "pod", "default", "moved", aggregates.Deleted, map[string]any{})
	b.emit(t, "pod", "default", "moved", aggregates.Created, podJSON("default", "moved"))
	b.emit(t, "pod", "default", "moved", aggregates.Bound, aggregates.BoundData{NodeName: "b"})
	b.emit(t, "pod", "default", "stays", aggregates.StatusChanged, aggregates.StatusData{Status: json.RawMessage(`{"phase":"Running"}`)})
	b.emit(t, "configmap", "default", "c", aggregates.Deleted, map[string]any{})
	view := NewView(nil)
	p = newTestProjector(t, b, view)
	if err := p.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	wantState, wantIndex := wantBuckets(view)
	if got := stateSeqs(t, b.index); !mapsEqual(got, wantIndex) {
		t.Fatalf("node-pods bucket:\n got %v\nwant %v", got, wantIndex)
	}
	if got := stateSeqs(t, b.state); !mapsEqual(got, wantState) {
		t.Fatalf("state bucket:\n got %v\nwant %v", got, wantState)
	}
	head, _, _ := b.store.Head(ctx)
	if cp := b.checkpoint(t); cp != head {
		t.Fatalf("checkpoint %d, want %d", cp, head)
	}
}

func keysOf(m map[string]uint64) []string {
	var out []string
	for k := range m {
		out = append(out, strings.ReplaceAll(k, "/", "."))
	}
	slices.Sort(out)
	return out
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
