package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrWriterClosed is returned by a KVWriter after Close.
var ErrWriterClosed = errors.New("bus: kv writer closed")

// KVWriterOptions tune a KVWriter; zero values take the defaults.
type KVWriterOptions struct {
	// Window is how many writes may await their acknowledgement (1024).
	Window int
	// MaxQueued is how many keys may wait to be published before Put and
	// Delete block (16384). Writes to a key already waiting replace its
	// value and never block.
	MaxQueued int
	// AckTimeout fails a write whose acknowledgement does not come (30 s).
	AckTimeout time.Duration
}

// KVWriter writes key-value entries without waiting for each
// acknowledgement. Puts and deletes are published straight to the
// buckets' subjects ($KV.<bucket>.<key>, a delete carrying the header
// KV-Operation: DEL, as nats.go's KeyValue does), with at most Window
// unacknowledged at a time, and every acknowledgement is checked: the
// first failure is kept and returned by every later call.
//
// Per key, order is kept: a key has at most one write in flight, and
// the writes made to it meanwhile are coalesced into one write of the
// latest value, published once the one in flight is acknowledged. So
// what a bucket shows for a key never goes back.
//
// Every write gets a ticket, increasing; Acked is the highest ticket
// below which every write has been acknowledged (a coalesced write
// counts as acknowledged when the write that carries its value is).
// Use it to record a checkpoint only once what it covers is stored.
type KVWriter struct {
	js  jetstream.JetStream
	opt KVWriterOptions

	mu        sync.Mutex
	err       error
	closed    bool
	ticket    uint64              // last ticket handed out
	queued    map[string]*kvOp    // subject → its write not yet published
	inFlight  map[string]*kvOp    // subject → its write awaiting its ack
	sent      map[*nats.Msg]*kvOp // writes awaiting their ack, by message
	ready     opQueue             // queued writes whose subject has nothing in flight
	pending   opQueue             // every write not yet acknowledged, by first ticket
	pumping   bool                // a goroutine is publishing ready writes
	waiters   int                 // callers blocked in wait
	changed   chan struct{}       // closed (and replaced) when waiters may proceed
	published uint64              // counters, for tests and metrics
	coalesced uint64
}

type kvOp struct {
	subject     string
	value       []byte
	del         bool
	first, last uint64 // tickets of the first and last write it carries
	acked       bool
}

// opQueue is a FIFO of writes.
type opQueue struct {
	ops  []*kvOp
	head int
}

func (q *opQueue) push(op *kvOp) { q.ops = append(q.ops, op) }
func (q *opQueue) len() int      { return len(q.ops) - q.head }
func (q *opQueue) peek() *kvOp   { return q.ops[q.head] }
func (q *opQueue) pop() *kvOp {
	op := q.ops[q.head]
	q.ops[q.head] = nil
	q.head++
	if q.head == len(q.ops) {
		q.ops, q.head = q.ops[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.ops) {
		n := copy(q.ops, q.ops[q.head:])
		clear(q.ops[n:])
		q.ops, q.head = q.ops[:n], 0
	}
	return op
}

// NewKVWriter makes a writer on c's connection, with its own JetStream
// context (its own window of asynchronous publishes).
func NewKVWriter(c *Conn, o KVWriterOptions) (*KVWriter, error) {
	if o.Window <= 0 {
		o.Window = 1024
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 16384
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 30 * time.Second
	}
	w := &KVWriter{
		opt: o, queued: map[string]*kvOp{}, inFlight: map[string]*kvOp{}, sent: map[*nats.Msg]*kvOp{},
		changed: make(chan struct{}),
	}
	js, err := jetstream.New(c.NC,
		jetstream.WithPublishAsyncMaxPending(2*o.Window), // never stalls: the writer keeps Window
		jetstream.WithPublishAsyncTimeout(o.AckTimeout),
		jetstream.WithPublishAsyncAckHandler(w.onAck),
		jetstream.WithPublishAsyncErrHandler(w.onErr))
	if err != nil {
		return nil, fmt.Errorf("bus: kv writer: %w", err)
	}
	w.js = js
	return w, nil
}

// Put sets key in bucket to value and returns the write's ticket. It
// blocks only while MaxQueued keys wait to be published.
func (w *KVWriter) Put(ctx context.Context, bucket, key string, value []byte) (uint64, error) {
	return w.write(ctx, bucket, key, value, false)
}

// Delete deletes key from bucket (a delete marker, as KeyValue.Delete
// writes) and returns the write's ticket.
func (w *KVWriter) Delete(ctx context.Context, bucket, key string) (uint64, error) {
	return w.write(ctx, bucket, key, nil, true)
}

func (w *KVWriter) write(ctx context.Context, bucket, key string, value []byte, del bool) (uint64, error) {
	if !validKVKey(key) {
		return 0, fmt.Errorf("bus: kv key %q: %w", key, jetstream.ErrInvalidKey)
	}
	subject := kvSubject(bucket, key)
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if w.closed {
			return 0, ErrWriterClosed
		}
		if w.err != nil {
			return 0, w.err
		}
		if op := w.queued[subject]; op != nil { // not published yet: carry the latest value
			w.ticket++
			op.value, op.del, op.last = value, del, w.ticket
			w.coalesced++
			return w.ticket, nil
		}
		if len(w.queued) < w.opt.MaxQueued {
			break
		}
		if err := w.waitLocked(ctx); err != nil {
			return 0, err
		}
	}
	w.ticket++
	op := &kvOp{subject: subject, value: value, del: del, first: w.ticket, last: w.ticket}
	w.queued[subject] = op
	w.pending.push(op)
	if w.inFlight[subject] == nil {
		w.ready.push(op)
		w.kickLocked()
	}
	return w.ticket, nil
}

// Written is the ticket of the last write accepted.
func (w *KVWriter) Written() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ticket
}

// Acked is the highest ticket t such that every write with a ticket ≤ t
// has been acknowledged.
func (w *KVWriter) Acked() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ackedLocked()
}

func (w *KVWriter) ackedLocked() uint64 {
	if w.pending.len() > 0 {
		return w.pending.peek().first - 1
	}
	return w.ticket
}

// Err is the first failure, if any.
func (w *KVWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stats counts the messages published and the writes coalesced into a
// later one.
func (w *KVWriter) Stats() (published, coalesced uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.published, w.coalesced
}

// WaitAcked blocks until every write with a ticket ≤ ticket has been
// acknowledged, a write failed, or ctx ends.
func (w *KVWriter) WaitAcked(ctx context.Context, ticket uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if w.err != nil {
			return w.err
		}
		if w.ackedLocked() >= ticket {
			return nil
		}
		if err := w.waitLocked(ctx); err != nil {
			return err
		}
	}
}

// Flush waits until every write made so far is acknowledged.
func (w *KVWriter) Flush(ctx context.Context) error {
	return w.WaitAcked(ctx, w.Written())
}

// Close flushes (until ctx ends) and releases the publisher. Writes
// still unacknowledged then fail.
func (w *KVWriter) Close(ctx context.Context) error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return nil
	}
	err := w.Flush(ctx)
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.js.CleanupPublisher()
	return err
}

// waitLocked releases the lock until something changes or ctx ends.
func (w *KVWriter) waitLocked(ctx context.Context) error {
	ch := w.changed
	w.waiters++
	w.mu.Unlock()
	var err error
	select {
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	}
	w.mu.Lock()
	w.waiters--
	return err
}

func (w *KVWriter) signalLocked() {
	if w.waiters > 0 {
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

func (w *KVWriter) failLocked(err error) {
	if w.err == nil {
		w.err = err
	}
	w.signalLocked()
}

func (w *KVWriter) kickLocked() {
	if !w.pumping && w.err == nil && w.ready.len() > 0 && len(w.sent) < w.opt.Window {
		w.pumping = true
		go w.pump()
	}
}

// pump publishes ready writes while the window has room.
func (w *KVWriter) pump() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.err == nil && w.ready.len() > 0 && len(w.sent) < w.opt.Window {
		op := w.ready.pop()
		delete(w.queued, op.subject)
		w.inFlight[op.subject] = op
		msg := &nats.Msg{Subject: op.subject, Data: op.value}
		if op.del {
			msg.Header = nats.Header{kvOperation: []string{"DEL"}}
		}
		w.sent[msg] = op // before publishing: the ack may come first
		w.published++
		w.mu.Unlock()
		_, err := w.js.PublishMsgAsync(msg)
		w.mu.Lock()
		if err != nil {
			delete(w.sent, msg)
			w.failLocked(fmt.Errorf("bus: kv write %s: %w", op.subject, err))
		}
	}
	w.pumping = false
	w.signalLocked() // room in the queue
}

func (w *KVWriter) onAck(_ jetstream.JetStream, msg *nats.Msg, _ *jetstream.PubAck) {
	w.mu.Lock()
	defer w.mu.Unlock()
	op := w.sent[msg]
	if op == nil {
		return
	}
	delete(w.sent, msg)
	op.acked = true
	if w.inFlight[op.subject] == op {
		delete(w.inFlight, op.subject)
	}
	if next := w.queued[op.subject]; next != nil { // written meanwhile: its turn now
		w.ready.push(next)
	}
	for w.pending.len() > 0 && w.pending.peek().acked {
		w.pending.pop()
	}
	w.kickLocked()
	w.signalLocked()
}

func (w *KVWriter) onErr(_ jetstream.JetStream, msg *nats.Msg, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.sent[msg]; !ok {
		return
	}
	delete(w.sent, msg)
	w.failLocked(fmt.Errorf("bus: kv write %s: %w", msg.Subject, err))
}

// validKVKey is nats.go's rule for keys.
func validKVKey(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '/', c == '_', c == '=':
		default:
			return false
		}
		prevDot = false
	}
	return true
}
