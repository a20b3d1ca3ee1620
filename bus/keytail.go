package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// KeyUpdate is one key's new value, or its removal.
type KeyUpdate struct {
	Key     string
	Value   []byte
	Deleted bool
}

// KeyTail follows the keys of a KV bucket that match a filter: first
// their current values, read with a KV watch that stops once it has
// them, then every put and delete as the bucket's writers publish it,
// read off a core subscription to the keys' subjects.
//
// A KV watch that stayed open would hold a consumer filtered to the keys
// on the bucket's stream, and for a wildcard filter the server finds each
// next message by walking the stream's tail message by message: with an
// agent per node watching its node's keys, every write to the bucket was
// looked at once per node (22 % of the CPU of a 1,000-node scheduling
// run). The server routes a core message by its subject instead.
//
// A core subscriber misses what is published while its connection is
// down, and what its client drops when it falls behind; the tail reads
// the keys' values again after either, and every resync period in any
// case, and sends the changes. Updates it sends never go back in time for
// a key: messages that arrive while the values are read are folded in
// after them, the last for each key winning.
type KeyTail struct {
	conn    *Conn
	kv      jetstream.KeyValue
	filter  string
	prefix  string // the bucket's subject prefix, "$KV.<bucket>."
	sub     *nats.Subscription
	resync  time.Duration
	check   time.Duration
	updates chan *KeyUpdate

	mu      sync.Mutex
	queue   []*nats.Msg
	arrived chan struct{}

	seed  maphash.Seed
	known map[string]uint64 // a hash of the value sent last, for each present key
}

// TailKeys starts following the keys of kv (a bucket on c) that match
// filter (a KV key filter: tokens, * and a final >). Updates delivers the
// keys' current values, then nil, then every change; it is closed when ctx
// ends. The values are read again every ten minutes regardless.
func TailKeys(ctx context.Context, c *Conn, kv jetstream.KeyValue, filter string) (*KeyTail, error) {
	return tailKeys(ctx, c, kv, filter, 10*time.Minute, 5*time.Second)
}

// tailKeys is TailKeys, reading the values again every resync and looking
// for reconnects and drops every check.
func tailKeys(ctx context.Context, c *Conn, kv jetstream.KeyValue, filter string, resync, check time.Duration) (*KeyTail, error) {
	t := &KeyTail{
		conn: c, kv: kv, filter: filter, prefix: kvSubject(kv.Bucket(), ""), resync: resync, check: min(check, resync),
		updates: make(chan *KeyUpdate, 64), arrived: make(chan struct{}, 1), seed: maphash.MakeSeed(), known: map[string]uint64{},
	}
	// Subscribed, and the server told, before the first read: whatever is
	// written after it is read arrives on the subscription.
	var err error
	t.sub, err = c.NC.Subscribe(t.prefix+filter, t.receive)
	if err == nil {
		err = t.sub.SetPendingLimits(-1, 256<<20)
	}
	if err == nil {
		err = c.NC.FlushTimeout(10 * time.Second)
	}
	if err != nil {
		if t.sub != nil {
			_ = t.sub.Unsubscribe()
		}
		return nil, fmt.Errorf("bus: tail %s %s: %w", kv.Bucket(), filter, err)
	}
	go t.run(ctx)
	return t, nil
}

// Updates delivers the keys' values, nil once the current ones are in,
// then every change.
func (t *KeyTail) Updates() <-chan *KeyUpdate { return t.updates }

func (t *KeyTail) receive(m *nats.Msg) {
	t.mu.Lock()
	t.queue = append(t.queue, m)
	t.mu.Unlock()
	select {
	case t.arrived <- struct{}{}:
	default:
	}
}

func (t *KeyTail) run(ctx context.Context) {
	defer close(t.updates)
	defer func() { _ = t.sub.Unsubscribe() }()
	// Counted before the first read: a reconnect during it reads again.
	reconnects, dropped := t.conn.NC.Stats().Reconnects, t.droppedCount()
	for !t.sync(ctx) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	if !t.send(ctx, nil) {
		return
	}
	check := time.NewTicker(t.check)
	defer check.Stop()
	// Tails started together (a fleet of nodes, agents after an outage)
	// spread their periodic reads over a quarter of the period.
	every := t.resync + rand.N(t.resync/4+1)
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.arrived:
			for _, m := range t.take() {
				if u := t.update(m); t.record(u) && !t.send(ctx, u) {
					return
				}
			}
		case now := <-check.C:
			r, d := t.conn.NC.Stats().Reconnects, t.droppedCount()
			if r == reconnects && d == dropped && now.Sub(last) < every {
				continue
			}
			if !t.sync(ctx) {
				continue // read again at the next check
			}
			reconnects, dropped, last = r, d, now
		}
	}
}

// sync reads the keys' values and sends what changed since they were
// last sent, folding in what arrived meanwhile. It reports false when the
// values could not be read.
func (t *KeyTail) sync(ctx context.Context) bool {
	w, err := t.kv.Watch(ctx, t.filter, jetstream.IgnoreDeletes())
	if err != nil {
		return false
	}
	current := map[string][]byte{}
	func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				err = ctx.Err()
				return
			case e, ok := <-w.Updates():
				if !ok {
					err = errors.New("watch closed")
					return
				}
				if e == nil {
					return
				}
				current[e.Key()] = e.Value()
			}
		}
	}()
	if err != nil {
		return false
	}
	// What arrived while reading is as new as what was read, or newer:
	// the last message for each key decides.
	for _, m := range t.take() {
		if u := t.update(m); u.Deleted {
			delete(current, u.Key)
		} else {
			current[u.Key] = u.Value
		}
	}
	var changes []*KeyUpdate
	for key := range t.known {
		if _, ok := current[key]; !ok {
			changes = append(changes, &KeyUpdate{Key: key, Deleted: true})
		}
	}
	for key, v := range current {
		changes = append(changes, &KeyUpdate{Key: key, Value: v})
	}
	for _, u := range changes {
		if t.record(u) && !t.send(ctx, u) {
			return false
		}
	}
	return true
}

// update reads a message published to one of the keys' subjects.
func (t *KeyTail) update(m *nats.Msg) *KeyUpdate {
	key := strings.TrimPrefix(m.Subject, t.prefix)
	switch m.Header.Get(kvOperation) {
	case "DEL", "PURGE":
		return &KeyUpdate{Key: key, Deleted: true}
	}
	return &KeyUpdate{Key: key, Value: m.Data}
}

// record notes u as sent and reports whether it changes what was sent
// before: a delete of a key not present, or the value a key has, does
// not.
func (t *KeyTail) record(u *KeyUpdate) bool {
	old, had := t.known[u.Key]
	if u.Deleted {
		delete(t.known, u.Key)
		return had
	}
	h := maphash.Bytes(t.seed, u.Value)
	t.known[u.Key] = h
	return !had || old != h
}

func (t *KeyTail) take() []*nats.Msg {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.queue
	t.queue = nil
	return q
}

func (t *KeyTail) send(ctx context.Context, u *KeyUpdate) bool {
	select {
	case t.updates <- u:
		return true
	case <-ctx.Done():
		return false
	}
}

func (t *KeyTail) droppedCount() int {
	n, _ := t.sub.Dropped()
	return n
}

// kvOperation is the header that marks a KV delete or purge.
const kvOperation = "KV-Operation"

// kvSubject is the subject a KV bucket's key is written on.
func kvSubject(bucket, key string) string { return "$KV." + bucket + "." + key }
