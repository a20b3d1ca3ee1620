package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/bus"
)

// checkpointKey holds, in the state bucket, the last sequence materialised.
const checkpointKey = "_checkpoint"

// The checkpoint is written every checkpointEvery events or
// checkpointInterval, whichever comes first, and when Run ends.
const (
	checkpointEvery    = 1000
	checkpointInterval = 100 * time.Millisecond
)

// StateValue is what the state bucket holds for one object.
type StateValue struct {
	Seq    uint64          `json:"seq"`
	Object json.RawMessage `json:"object"`
}

// Projector keeps a View current and materialises it in gantry-state.
//
// Materialising does not wait for the buckets: the writes go out through
// a bus.KVWriter (pipelined, coalesced per key, order kept per key, every
// acknowledgement checked), so folding never waits on a KV round trip.
// The checkpoint key is written only once every write of the events it
// covers has been acknowledged, so after a crash it never claims more
// than was written; CatchUp re-materialises everything after it.
type Projector struct {
	conn    *bus.Conn
	store   *bus.Store
	kv      jetstream.KeyValue // reads the checkpoint
	podNode map[string]string  // "ns/name" → node it is indexed under
	view    *View
	sealer  *seal.Sealer

	writerOpts         bus.KVWriterOptions
	checkpointEvery    int
	checkpointInterval time.Duration
}

// CatchUpGCPercent is the garbage collector's target while CatchUp runs,
// unless the GOGC environment variable is set. Catching up folds the whole
// stream into memory that was empty: nearly everything it allocates stays
// live, so collecting at the process's usual pace (Go's 100, `gantry up`'s
// 50) spends CPU for little. Over 1,000,000 events it cut CPU per event
// from 12.9 to 9.4 µs (BENCHMARKS.md, projection rebuild); the heap may
// grow to five times the live objects until CatchUp returns.
const CatchUpGCPercent = 400

// relaxGC sets CatchUpGCPercent and returns what restores the setting;
// overlapping catch-ups share one relaxation, which the last one ends.
func relaxGC() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	relaxed.Lock()
	defer relaxed.Unlock()
	if relaxed.n == 0 {
		relaxed.prev = debug.SetGCPercent(CatchUpGCPercent)
	}
	relaxed.n++
	return func() {
		relaxed.Lock()
		defer relaxed.Unlock()
		if relaxed.n--; relaxed.n == 0 {
			debug.SetGCPercent(relaxed.prev)
		}
	}
}

var relaxed struct {
	sync.Mutex
	n    int // catch-ups running
	prev int // the setting before the first of them
}

// NewProjector binds a view to the event stream and the state bucket.
func NewProjector(ctx context.Context, c *bus.Conn, view *View, sealer *seal.Sealer) (*Projector, error) {
	store, err := bus.NewStore(ctx, c)
	if err != nil {
		return nil, err
	}
	kv, err := c.JS.KeyValue(ctx, bus.StateBucket)
	if err != nil {
		return nil, fmt.Errorf("projections: bucket %s: %w", bus.StateBucket, err)
	}
	if _, err := c.JS.KeyValue(ctx, bus.NodePodsBucket); err != nil {
		return nil, fmt.Errorf("projections: bucket %s: %w", bus.NodePodsBucket, err)
	}
	return &Projector{
		conn: c, store: store, kv: kv, view: view, sealer: sealer, podNode: map[string]string{},
		checkpointEvery: checkpointEvery, checkpointInterval: checkpointInterval,
	}, nil
}

// Store is the event store the projector reads.
func (p *Projector) Store() *bus.Store { return p.store }

// CatchUp folds every stored event into the view (a cold start rebuilds
// it from the stream), then brings the state bucket up to date: only what
// changed since the bucket's checkpoint is written.
func (p *Projector) CatchUp(ctx context.Context) error {
	defer relaxGC()()
	head, _, err := p.store.Head(ctx)
	if err != nil {
		return err
	}
	checkpoint := p.checkpoint(ctx)
	touched := map[[3]string]bool{}
	// Nodes a pod touched since the checkpoint may be indexed under: the
	// one it had at the checkpoint and the one of every incarnation
	// deleted since (a pod's node never changes while it lives). The
	// writes past the checkpoint may have landed before a crash.
	podNodes := map[string][]string{}
	// Runs of edits are deferred as the View folds (replayDeferred); the
	// pods read past the checkpoint have theirs applied as they are read.
	err = p.view.replayDeferred(ctx, p.store, head, func(e bus.Envelope) error {
		if e.Seq <= checkpoint {
			return p.view.Fold(e)
		}
		kind, ns, name, _ := bus.ParseEventSubject(e.StreamSubject)
		k := [3]string{kind, ns, name}
		if kind != "pod" {
			touched[k] = true
			return p.view.Fold(e)
		}
		// The node it was indexed under: read as it was at the checkpoint
		// (its first event since) and as it is deleted.
		_, verb, _, _ := bus.ParseEventType(e.Type)
		if !touched[k] || verb == aggregates.Deleted {
			if before, had := p.view.current(kind, ns, name); had {
				id := ns + "/" + name
				podNodes[id] = appendNode(podNodes[id], nodeOf(before.Raw))
			}
		}
		touched[k] = true
		return p.view.Fold(e)
	})
	if err != nil {
		return err
	}
	p.view.Advance(head)
	for _, e := range p.view.List("pod", "") {
		if node := nodeOf(e.Raw); node != "" {
			p.podNode[e.Namespace+"/"+e.Name] = node
		}
	}
	w, err := bus.NewKVWriter(p.conn, p.writerOpts)
	if err != nil {
		return err
	}
	defer w.Close(ctx)
	for k := range touched {
		e, ok := p.view.Get(k[0], k[1], k[2])
		if err := p.materialise(ctx, w, Change{Entry: Entry{Kind: k[0], Namespace: k[1], Name: k[2], Raw: e.Raw, Seq: e.Seq}, Deleted: !ok}); err != nil {
			return err
		}
		if k[0] != "pod" {
			continue
		}
		id := k[1] + "/" + k[2]
		for _, node := range podNodes[id] {
			if node == p.podNode[id] {
				continue
			}
			if _, err := w.Delete(ctx, bus.NodePodsBucket, bus.NodePodKey(node, k[1], k[2])); err != nil {
				return fmt.Errorf("projections: unindex pod %s: %w", id, err)
			}
		}
	}
	if head > checkpoint {
		if err := w.Flush(ctx); err != nil { // every object before the checkpoint that covers it
			return err
		}
		if _, err := w.Put(ctx, bus.StateBucket, checkpointKey, []byte(strconv.FormatUint(head, 10))); err != nil {
			return err
		}
	}
	return w.Close(ctx)
}

func appendNode(nodes []string, node string) []string {
	if node == "" || slices.Contains(nodes, node) {
		return nodes
	}
	return append(nodes, node)
}

// Run catches up (unless CatchUp already ran), then follows the stream
// until ctx ends. It returns the first failed write, if any.
func (p *Projector) Run(ctx context.Context) error {
	if p.view.Applied() == 0 {
		if err := p.CatchUp(ctx); err != nil {
			return err
		}
	}
	w, err := bus.NewKVWriter(p.conn, p.writerOpts)
	if err != nil {
		return err
	}
	from := p.view.Applied() + 1
	cp := &checkpointer{w: w, written: from - 1, every: p.checkpointEvery, kick: make(chan struct{}, 1)}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cpDone := make(chan error, 1)
	go func() {
		err := cp.run(fctx, p.checkpointInterval)
		if err != nil {
			cancel() // stop following: nothing more may be checkpointed
		}
		cpDone <- err
	}()
	err = p.store.Follow(fctx, from, func(e bus.Envelope) error {
		if err := p.view.Fold(e); err != nil {
			return err
		}
		kind, ns, name, _ := bus.ParseEventSubject(e.StreamSubject)
		entry, ok := p.view.Get(kind, ns, name)
		if err := p.materialise(fctx, w, Change{Entry: Entry{Kind: kind, Namespace: ns, Name: name, Raw: entry.Raw, Seq: e.Seq}, Deleted: !ok}); err != nil {
			return err
		}
		cp.note(e.Seq, w.Written())
		return nil
	})
	cancel()
	cpErr := <-cpDone
	// Last checkpoint: whatever was folded, once it is written.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer scancel()
	if cpErr == nil {
		cpErr = cp.write(sctx)
	}
	closeErr := w.Close(sctx)
	switch {
	case cpErr != nil:
		return cpErr
	case err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() != nil):
		return err
	case closeErr != nil:
		return fmt.Errorf("projections: flushing the state buckets: %w", closeErr)
	}
	return nil
}

// checkpointer writes the checkpoint key behind the writes it covers.
type checkpointer struct {
	w     *bus.KVWriter
	every int
	kick  chan struct{}

	mu          sync.Mutex
	seq, ticket uint64 // last event folded; the writer's ticket once it was materialised
	since       int    // events noted since the last checkpoint was taken

	written uint64 // last checkpoint written (run's goroutine, then Run's)
}

// note records that event seq is folded and its writes have tickets up
// to ticket.
func (c *checkpointer) note(seq, ticket uint64) {
	c.mu.Lock()
	c.seq, c.ticket = seq, ticket
	c.since++
	n := c.since
	c.mu.Unlock()
	if n >= c.every {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

func (c *checkpointer) run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.kick:
		}
		if err := c.write(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// write waits until every write up to the last noted event is
// acknowledged, then writes the checkpoint (through the writer: it never
// goes back either).
func (c *checkpointer) write(ctx context.Context) error {
	c.mu.Lock()
	seq, ticket := c.seq, c.ticket
	c.since = 0
	c.mu.Unlock()
	if seq <= c.written {
		return nil
	}
	if err := c.w.WaitAcked(ctx, ticket); err != nil {
		return err
	}
	if _, err := c.w.Put(ctx, bus.StateBucket, checkpointKey, []byte(strconv.FormatUint(seq, 10))); err != nil {
		return err
	}
	c.written = seq
	return nil
}

func (p *Projector) checkpoint(ctx context.Context) uint64 {
	v, err := p.kv.Get(ctx, checkpointKey)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(string(v.Value()), 10, 64)
	return n
}

// materialise writes one object's current value (or its absence) to the
// state bucket, through w. Secrets stay sealed there.
func (p *Projector) materialise(ctx context.Context, w *bus.KVWriter, c Change) error {
	key := bus.StateKey(c.Kind, c.Namespace, c.Name)
	if c.Deleted && c.Kind == "pod" {
		if err := p.indexPod(ctx, w, c, nil, nil); err != nil {
			return err
		}
	}
	if c.Deleted {
		if _, err := w.Delete(ctx, bus.StateBucket, key); err != nil {
			return fmt.Errorf("projections: delete %s: %w", key, err)
		}
		return nil
	}
	obj := c.Object()
	if aggregates.IsSealed(c.Kind) && p.sealer != nil {
		sealed, err := p.sealer.Seal(obj)
		if err != nil {
			return err
		}
		obj = sealed
	}
	val := stateValue(c.Seq, obj)
	if c.Kind == "pod" { // the index holds the same value as the state bucket
		if err := p.indexPod(ctx, w, c, obj, val); err != nil {
			return err
		}
	}
	if _, err := w.Put(ctx, bus.StateBucket, key, val); err != nil {
		return fmt.Errorf("projections: put %s: %w", key, err)
	}
	return nil
}

// At rebuilds a view as of stream sequence seq (0: the empty cluster).
func At(ctx context.Context, store *bus.Store, sealer *seal.Sealer, seq uint64) (*View, error) {
	v := NewView(sealer)
	if err := v.replayDeferred(ctx, store, seq, v.Fold); err != nil { // nobody reads v before it is returned
		return nil, err
	}
	v.Advance(seq)
	return v, nil
}

// indexPod keeps NodePodsBucket in step: a bound pod (obj, stored as val)
// under its node's key, nothing for unbound or deleted (nil) pods.
func (p *Projector) indexPod(ctx context.Context, w *bus.KVWriter, c Change, obj, val []byte) error {
	id := c.Namespace + "/" + c.Name
	node := ""
	if obj != nil {
		node = nodeOf(obj)
	}
	if old, ok := p.podNode[id]; ok && old != node {
		if _, err := w.Delete(ctx, bus.NodePodsBucket, bus.NodePodKey(old, c.Namespace, c.Name)); err != nil {
			return fmt.Errorf("projections: unindex pod %s: %w", id, err)
		}
		delete(p.podNode, id)
	}
	if node == "" {
		return nil
	}
	p.podNode[id] = node
	if _, err := w.Put(ctx, bus.NodePodsBucket, bus.NodePodKey(node, c.Namespace, c.Name), val); err != nil {
		return fmt.Errorf("projections: index pod %s on %s: %w", id, node, err)
	}
	return nil
}

// stateValue is json.Marshal(StateValue{Seq: seq, Object: obj}) (nil if
// that fails), spliced when obj is already as Marshal would write it: a
// cold start writes every object, and Marshal validated and compacted each
// again at several times the cost of the check.
func stateValue(seq uint64, obj []byte) []byte {
	if !aggregates.Compact(obj) {
		val, _ := json.Marshal(StateValue{Seq: seq, Object: obj})
		return val
	}
	val := make([]byte, 0, len(obj)+40)
	val = append(val, `{"seq":`...)
	val = strconv.AppendUint(val, seq, 10)
	val = append(val, `,"object":`...)
	val = append(val, obj...)
	return append(val, '}')
}

func nodeOf(pod []byte) string {
	if node, ok := aggregates.SpecNodeName(pod); ok {
		return node // without decoding the whole pod, which CatchUp did several times per pod
	}
	var p struct {
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
	}
	_ = json.Unmarshal(pod, &p)
	return p.Spec.NodeName
}
