package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/bus"
)

// checkpointKey holds, in the state bucket, the last sequence materialised.
const checkpointKey = "_checkpoint"

// StateValue is what the state bucket holds for one object.
type StateValue struct {
	Seq    uint64          `json:"seq"`
	Object json.RawMessage `json:"object"`
}

// Projector keeps a View current and materialises it in gantry-state.
type Projector struct {
	store   *bus.Store
	kv      jetstream.KeyValue
	nodeKV  jetstream.KeyValue
	podNode map[string]string // "ns/name" → node it is indexed under
	view    *View
	sealer  *seal.Sealer
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
	nodeKV, err := c.JS.KeyValue(ctx, bus.NodePodsBucket)
	if err != nil {
		return nil, fmt.Errorf("projections: bucket %s: %w", bus.NodePodsBucket, err)
	}
	return &Projector{store: store, kv: kv, nodeKV: nodeKV, view: view, sealer: sealer, podNode: map[string]string{}}, nil
}

// Store is the event store the projector reads.
func (p *Projector) Store() *bus.Store { return p.store }

// CatchUp folds every stored event into the view (a cold start rebuilds
// it from the stream), then brings the state bucket up to date: only what
// changed since the bucket's checkpoint is written.
func (p *Projector) CatchUp(ctx context.Context) error {
	head, _, err := p.store.Head(ctx)
	if err != nil {
		return err
	}
	checkpoint := p.checkpoint(ctx)
	touched := map[[3]string]bool{}
	err = p.store.Replay(ctx, nil, 1, head, func(e bus.Envelope) error {
		if e.Seq > checkpoint {
			kind, ns, name, _ := bus.ParseEventSubject(e.StreamSubject)
			touched[[3]string{kind, ns, name}] = true
		}
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
	for k := range touched {
		e, ok := p.view.Get(k[0], k[1], k[2])
		if err := p.materialise(ctx, Change{Entry: Entry{Kind: k[0], Namespace: k[1], Name: k[2], Raw: e.Raw, Seq: e.Seq}, Deleted: !ok}); err != nil {
			return err
		}
	}
	if head > checkpoint {
		_, err = p.kv.Put(ctx, checkpointKey, []byte(strconv.FormatUint(head, 10)))
	}
	return err
}

// Run catches up (unless CatchUp already ran), then follows the stream
// until ctx ends.
func (p *Projector) Run(ctx context.Context) error {
	if p.view.Applied() == 0 {
		if err := p.CatchUp(ctx); err != nil {
			return err
		}
	}
	from := p.view.Applied() + 1
	err := p.store.Follow(ctx, from, func(e bus.Envelope) error {
		if err := p.view.Fold(e); err != nil {
			return err
		}
		kind, ns, name, _ := bus.ParseEventSubject(e.StreamSubject)
		entry, ok := p.view.Get(kind, ns, name)
		if err := p.materialise(ctx, Change{Entry: Entry{Kind: kind, Namespace: ns, Name: name, Raw: entry.Raw, Seq: e.Seq}, Deleted: !ok}); err != nil {
			return err
		}
		_, err := p.kv.Put(ctx, checkpointKey, []byte(strconv.FormatUint(e.Seq, 10)))
		return err
	})
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
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
// state bucket. Secrets stay sealed there.
func (p *Projector) materialise(ctx context.Context, c Change) error {
	key := bus.StateKey(c.Kind, c.Namespace, c.Name)
	if c.Deleted && c.Kind == "pod" {
		if err := p.indexPod(ctx, c, nil); err != nil {
			return err
		}
	}
	if c.Deleted {
		err := p.kv.Delete(ctx, key)
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("projections: delete %s: %w", key, err)
		}
		return nil
	}
	obj := c.Object()
	if c.Kind == "pod" {
		if err := p.indexPod(ctx, c, obj); err != nil {
			return err
		}
	}
	if c.Kind == "secret" && p.sealer != nil {
		sealed, err := p.sealer.Seal(obj)
		if err != nil {
			return err
		}
		obj = sealed
	}
	val, _ := json.Marshal(StateValue{Seq: c.Seq, Object: obj})
	if _, err := p.kv.Put(ctx, key, val); err != nil {
		return fmt.Errorf("projections: put %s: %w", key, err)
	}
	return nil
}

// At rebuilds a view as of stream sequence seq (0: the empty cluster).
func At(ctx context.Context, store *bus.Store, sealer *seal.Sealer, seq uint64) (*View, error) {
	v := NewView(sealer)
	if err := store.Replay(ctx, nil, 1, seq, v.Fold); err != nil {
		return nil, err
	}
	v.Advance(seq)
	return v, nil
}

// indexPod keeps NodePodsBucket in step: a bound pod under its node's
// key, nothing for unbound or deleted pods.
func (p *Projector) indexPod(ctx context.Context, c Change, obj []byte) error {
	id := c.Namespace + "/" + c.Name
	node := ""
	if obj != nil {
		node = nodeOf(obj)
	}
	if old, ok := p.podNode[id]; ok && old != node {
		err := p.nodeKV.Delete(ctx, bus.NodePodKey(old, c.Namespace, c.Name))
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("projections: unindex pod %s: %w", id, err)
		}
		delete(p.podNode, id)
	}
	if node == "" {
		return nil
	}
	p.podNode[id] = node
	val, _ := json.Marshal(StateValue{Seq: c.Seq, Object: obj})
	if _, err := p.nodeKV.Put(ctx, bus.NodePodKey(node, c.Namespace, c.Name), val); err != nil {
		return fmt.Errorf("projections: index pod %s on %s: %w", id, node, err)
	}
	return nil
}

func nodeOf(pod []byte) string {
	var p struct {
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
	}
	_ = json.Unmarshal(pod, &p)
	return p.Spec.NodeName
}
