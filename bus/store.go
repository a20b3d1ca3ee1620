package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// Domain errors of the event store. Callers test them with errors.Is and
// never see a JetStream error code.
var (
	// ErrConflict: the subject moved on since the expected sequence.
	ErrConflict = errors.New("conflict: the object was changed by someone else")
	// ErrNotFound: no such subject, message or key.
	ErrNotFound = errors.New("not found")
)

// JetStream's wrong-last-sequence codes: 10071 on R1 streams, 10164 on
// replicated ones (FIELD-NOTES.md).
const (
	errCodeWrongLastSeq         = 10071
	errCodeWrongLastSeqConstant = 10164
)

// Store appends events to and reads them from GANTRY_EVENTS.
type Store struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// NewStore binds to the events stream (Bootstrap must have run).
func NewStore(ctx context.Context, c *Conn) (*Store, error) {
	s, err := c.JS.Stream(ctx, EventsStream)
	if err != nil {
		return nil, fmt.Errorf("bus: stream %s: %w", EventsStream, err)
	}
	return &Store{js: c.JS, stream: s}, nil
}

// Append publishes one event on subject if the subject's last sequence is
// still expected (0: the subject must be empty), and returns the event's
// stream sequence. A retry after a lost acknowledgement is recognised by
// the event id, so it is not mistaken for a conflict.
func (s *Store) Append(ctx context.Context, subject string, expected uint64, e Envelope) (uint64, error) {
	buf := borrow()
	defer giveBack(buf)
	body, err := e.appendTo(*buf, false)
	if err != nil {
		return 0, err
	}
	*buf = body
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{
		"Content-Type":                      {ContentType},
		jetstream.MsgIDHeader:               {e.ID},
		jetstream.ExpectedLastSubjSeqHeader: {strconv.FormatUint(expected, 10)},
	}}
	seq, err := s.publish(ctx, msg)
	if err == nil {
		return seq, nil
	}
	if !isWrongLastSeq(err) {
		return 0, fmt.Errorf("bus: append %s: %w", subject, err)
	}
	last, lerr := s.stream.GetLastMsgForSubject(ctx, subject)
	if lerr == nil && last.Header.Get(jetstream.MsgIDHeader) == e.ID {
		return last.Sequence, nil
	}
	return 0, fmt.Errorf("bus: append %s at %d: %w", subject, expected, ErrConflict)
}

// publishTimeout bounds an append whose context has no deadline, as
// jetstream's default API timeout does.
const publishTimeout = 5 * time.Second

// publish is jetstream.PublishMsg for appends, without what that costs on
// every call beyond the request itself (its options, header
// canonicalisation, the acknowledgement through encoding/json): the same
// two retries 250 ms apart on no responders, the same errors
// (jetstream.ErrNoStreamResponse, a refusal as a *jetstream.APIError).
//
// A context without a deadline (the command service's own) bounds nothing:
// the request then waits at most publishTimeout, on nats.go's pooled
// timer, and is not abandoned when ctx ends. An append on its way is the
// server's to decide, and its answer says how it went.
func (s *Store) publish(ctx context.Context, m *nats.Msg) (uint64, error) {
	request := func() (*nats.Msg, error) {
		if _, ok := ctx.Deadline(); ok {
			return s.js.Conn().RequestMsgWithContext(ctx, m)
		}
		return s.js.Conn().RequestMsg(m, publishTimeout)
	}
	resp, err := request()
	for retry := 0; errors.Is(err, nats.ErrNoResponders) && retry < 2; retry++ {
		select { // a stream between leaders: try again shortly
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
		resp, err = request()
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return 0, jetstream.ErrNoStreamResponse
	case err != nil:
		return 0, err
	}
	return parsePubAck(resp.Data)
}

// parsePubAck reads JetStream's answer to a publish: the usual
// {"stream":…,"seq":…} (perhaps with domain and duplicate) is split with
// jsonscan; anything else, a refusal included, is decoded with
// encoding/json.
func parsePubAck(b []byte) (uint64, error) {
	var stream, seq []byte
	ok := jsonscan.Object(b, func(key []byte, plain bool, v []byte) bool {
		switch {
		case !plain:
			return false
		case string(key) == "stream":
			stream = v
		case string(key) == "seq":
			seq = v
		case string(key) == "domain" || string(key) == "duplicate" || string(key) == "batch" || string(key) == "count" || string(key) == "val":
		default:
			return false
		}
		return true
	})
	if ok && len(stream) > 2 && stream[0] == '"' {
		if n, ok := jsonscan.Uint(seq); ok {
			return n, nil
		}
	}
	var ack struct {
		Error  *jetstream.APIError `json:"error"`
		Stream string              `json:"stream"`
		Seq    uint64              `json:"seq"`
	}
	if err := json.Unmarshal(b, &ack); err != nil {
		return 0, jetstream.ErrInvalidJSAck
	}
	if ack.Error != nil {
		return 0, fmt.Errorf("nats: %w", ack.Error)
	}
	if ack.Stream == "" {
		return 0, jetstream.ErrInvalidJSAck
	}
	return ack.Seq, nil
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == errCodeWrongLastSeq || apiErr.ErrorCode == errCodeWrongLastSeqConstant
}

// LastSeq is the sequence of the last event on subject (ErrNotFound if none).
func (s *Store) LastSeq(ctx context.Context, subject string) (uint64, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, fmt.Errorf("bus: %s: %w", subject, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("bus: last of %s: %w", subject, err)
	}
	return m.Sequence, nil
}

// Load reads the events of one subject after sequence after (0: all).
//
// It creates no consumer: the command service calls it on every cache
// miss, and an ordered consumer per call piled up on the server (each
// lingers until its inactivity threshold) until the stream's consumer
// limit was reached. Each event is one direct get ("first message on the
// subject at or after seq"); the last one comes with the LastSeq lookup.
func (s *Store) Load(ctx context.Context, subject string, after uint64) ([]Envelope, error) {
	last, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bus: last of %s: %w", subject, err)
	}
	if last.Sequence <= after {
		return nil, nil
	}
	var out []Envelope
	for seq := after + 1; seq < last.Sequence; {
		m, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break // cannot happen before last (no deletes); be safe
		}
		if err != nil {
			return nil, fmt.Errorf("bus: load %s at %d: %w", subject, seq, err)
		}
		if m.Sequence >= last.Sequence {
			break
		}
		e, err := decodeRaw(m)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		seq = m.Sequence + 1
	}
	e, err := decodeRaw(last)
	if err != nil {
		return nil, err
	}
	return append(out, e), nil
}

// Head is the stream's last sequence and its time.
func (s *Store) Head(ctx context.Context) (uint64, time.Time, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("bus: %s info: %w", EventsStream, err)
	}
	return info.State.LastSeq, info.State.LastTime, nil
}

// Replay calls fn for every event with from ≤ seq ≤ upTo (at most the
// current head), in order, on the subjects matching filters (none: all),
// then returns.
func (s *Store) Replay(ctx context.Context, filters []string, from, upTo uint64, fn func(Envelope) error) error {
	return s.replay(ctx, filters, from, upTo, fn, false)
}

// ReplayData is Replay for folding: of each event only Seq, Stored,
// StreamSubject, Type and Data are set, and Data shares the delivered
// message's memory (fn copies what it keeps beyond the call). It spares a
// cold start the copies and attributes nothing folds.
func (s *Store) ReplayData(ctx context.Context, filters []string, from, upTo uint64, fn func(Envelope) error) error {
	return s.replay(ctx, filters, from, upTo, fn, true)
}

// SeqAt is the sequence of the last event stored at or before t (0 if none).
func (s *Store) SeqAt(ctx context.Context, t time.Time) (uint64, error) {
	head, headTime, err := s.Head(ctx)
	if err != nil || head == 0 || !t.Before(headTime) {
		return head, err
	}
	after := t.Add(time.Nanosecond)
	cons, done, err := s.ordered(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &after,
	})
	if err != nil {
		return 0, fmt.Errorf("bus: seek %s: %w", t, err)
	}
	defer done()
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		return 0, fmt.Errorf("bus: seek %s: %w", t, err)
	}
	md, err := msg.Metadata()
	if err != nil {
		return 0, err
	}
	return md.Sequence.Stream - 1, nil
}

func (s *Store) replay(ctx context.Context, filters []string, from, upTo uint64, fn func(Envelope) error, lean bool) error {
	if from == 0 {
		from = 1
	}
	head, _, err := s.Head(ctx)
	if err != nil {
		return err
	}
	upTo = min(upTo, head) // nothing past the head yet: do not wait for it
	if upTo < from {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from}
	cons, done, err := s.ordered(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bus: replay: %w", err)
	}
	defer done()
	if len(filters) > 0 { // nothing matching at all: Next would wait for a match
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("bus: replay: %w", err)
		}
		if info.NumPending == 0 {
			return nil
		}
	}
	// The consumer's handler decodes on the subscription's own goroutine,
	// ahead of fn, so a replay uses both cores: one reads the stream, the
	// other folds. They hand over batches, not events: a channel operation
	// per event cost more than decoding one.
	decoded := make(chan replayed, replayBatches)
	free := make(chan []Envelope, replayBatches+2)
	d := &decoder{upTo: upTo, lean: lean, out: decoded, free: free, quit: make(chan struct{})}
	cc, err := cons.Consume(d.handle, jetstream.PullMaxMessages(4096),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !orderedRecovers(err) {
				d.fail(err)
			}
		}))
	if err != nil {
		return fmt.Errorf("bus: replay: %w", err)
	}
	defer cc.Stop()
	defer d.stop()
	stop := context.AfterFunc(ctx, func() { d.fail(ctx.Err()) })
	defer stop()
	for {
		r := <-decoded
		if ctx.Err() != nil { // a batch may come in after the cancellation: a replay cut short fails
			return ctx.Err()
		}
		for i := range r.events {
			if err := fn(r.events[i]); err != nil {
				return err // the deferred stop frees the handler
			}
		}
		if r.err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return r.err
		}
		if r.last {
			return nil
		}
		clear(r.events) // the batch goes back: drop what fn may keep
		select {
		case free <- r.events[:0]:
		default:
		}
	}
}

// Replay hands decoded events to fn in batches of replayBatch, at most
// replayBatches of them ahead.
const (
	replayBatch   = 256
	replayBatches = 16
)

// orderedRecovers: the ordered consumer recreates itself after these
// errors and delivers on from where it was (nats.go jetstream ordered.go).
func orderedRecovers(err error) bool {
	return errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, nats.ErrNoResponders)
}

// replayed is a batch of decoded events, and the error that ended the
// replay after them, if any; last: no batch follows.
type replayed struct {
	events []Envelope
	err    error
	last   bool
}

// decoder is a replay's consumer handler: it decodes the events up to
// upTo, or up to the last one matching the consumer's filters that is
// stored, into batches for the folding side. A batch goes out when it is
// full or when no more events are wanted; after the last, or a failure,
// it takes nothing more.
type decoder struct {
	upTo uint64
	lean bool
	out  chan<- replayed
	free <-chan []Envelope

	mu       sync.Mutex // the handler's: a reset of the ordered consumer may overlap two deliveries
	batch    []Envelope
	finished bool          // the last batch went out
	quit     chan struct{} // closed by stop or fail: nobody reads out any more
	once     sync.Once
}

func (d *decoder) handle(msg jetstream.Msg) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.finished {
		return
	}
	if d.batch == nil {
		select {
		case d.batch = <-d.free:
		default:
			d.batch = make([]Envelope, 0, replayBatch)
		}
	}
	e, pending, err := decodeMsg(msg, d.lean)
	switch {
	case err != nil:
		d.send(replayed{err: err, last: true})
	case e.Seq > d.upTo:
		d.send(replayed{events: d.batch, last: true})
	default:
		d.batch = append(d.batch, e)
		// The last event wanted, or the last one matching the filters
		// that is stored: either way, nothing more to wait for.
		if e.Seq == d.upTo || pending == 0 {
			d.send(replayed{events: d.batch, last: true})
		} else if len(d.batch) == replayBatch {
			d.send(replayed{events: d.batch})
		}
	}
}

// send hands a batch over unless the replay was stopped.
func (d *decoder) send(r replayed) {
	d.batch = nil
	d.finished = r.last
	select {
	case d.out <- r:
	case <-d.quit:
		d.finished = true
	}
}

// fail ends the replay with err (the consumer failed, or ctx ended).
func (d *decoder) fail(err error) {
	d.once.Do(func() {
		go func() { // the folding side may be busy: hand the error over without blocking the caller
			select {
			case d.out <- replayed{err: fmt.Errorf("bus: replay: %w", err), last: true}:
			case <-d.quit:
			}
		}()
	})
}

// stop tells the handler nobody reads any more (the replay's own
// goroutine calls it, as it returns).
func (d *decoder) stop() {
	select {
	case <-d.quit:
	default:
		close(d.quit)
	}
}

// Follow calls fn for every event from sequence from on, as they arrive,
// until ctx ends. It is how projections stay current.
func (s *Store) Follow(ctx context.Context, from uint64, fn func(Envelope) error) error {
	return s.FollowSubjects(ctx, nil, from, fn)
}

// FollowSubjects is Follow for the events on subjects matching filters.
func (s *Store) FollowSubjects(ctx context.Context, filters []string, from uint64, fn func(Envelope) error) error {
	if from == 0 {
		from = 1
	}
	cons, done, err := s.ordered(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
	})
	if err != nil {
		return fmt.Errorf("bus: follow: %w", err)
	}
	defer done()
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return fmt.Errorf("bus: follow: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("bus: follow: %w", err)
		}
		e, _, err := decodeMsg(msg, false)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// orderedInactive is how long the server keeps an ordered consumer nobody
// pulls from (nats.go's default is 5 minutes). Replay, Follow and SeqAt
// delete theirs when done; this only bounds what a crashed process leaves.
// An active consumer always has a pull request waiting, so it is not
// reaped; if a callback stalls longer than this, the ordered consumer
// recreates its server consumer from where it stopped.
const orderedInactive = 30 * time.Second

// ordered creates an ordered consumer on the events stream and returns a
// function that deletes its server-side consumer. Call it after stopping
// the consumer's iterator (defers run in reverse order).
func (s *Store) ordered(ctx context.Context, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, func(), error) {
	cfg.InactiveThreshold = orderedInactive
	cons, err := s.js.OrderedConsumer(ctx, EventsStream, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cons, func() {
		info := cons.CachedInfo() // the consumer in use now (earlier ones were deleted on reset)
		if info == nil {
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = s.js.DeleteConsumer(dctx, EventsStream, info.Name)
	}, nil
}

func decodeRaw(m *jetstream.RawStreamMsg) (Envelope, error) {
	e, err := UnmarshalEnvelope(m.Data)
	if err != nil {
		return Envelope{}, fmt.Errorf("bus: event %d on %s: %w", m.Sequence, m.Subject, err)
	}
	e.Seq, e.Stored, e.StreamSubject = m.Sequence, m.Time.Local(), m.Subject // Local, as the consumer metadata has it
	return e, nil
}

// decodeMsg decodes a message a consumer delivered (lean: as
// unmarshalLean does) and returns how many more are pending on the
// consumer.
func decodeMsg(msg jetstream.Msg, lean bool) (e Envelope, pending uint64, err error) {
	seq, pending, stored, ok := ackMetadata(msg.Reply())
	if !ok {
		md, err := msg.Metadata()
		if err != nil {
			return Envelope{}, 0, fmt.Errorf("bus: metadata of %s: %w", msg.Subject(), err)
		}
		seq, pending, stored = md.Sequence.Stream, md.NumPending, md.Timestamp
	}
	decode := UnmarshalEnvelope
	if lean {
		decode = unmarshalLean
	}
	if e, err = decode(msg.Data()); err != nil {
		return Envelope{}, 0, fmt.Errorf("bus: event %d on %s: %w", seq, msg.Subject(), err)
	}
	e.Seq, e.Stored, e.StreamSubject = seq, stored, msg.Subject()
	return e, pending, nil
}

// ackMetadata reads the stream sequence, the pending count and the time
// stored from a JetStream ack subject, as msg.Metadata does, without
// allocating: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>,
// or with <domain>.<account hash> after $JS.ACK and a token or more at the
// end. ok false: not one of those (Metadata words the error).
func ackMetadata(reply string) (seq, pending uint64, stored time.Time, ok bool) {
	rest, ok := strings.CutPrefix(reply, "$JS.ACK.")
	if !ok {
		return 0, 0, time.Time{}, false
	}
	var tokens [12]string
	n := 0
	for n < len(tokens) {
		var found bool
		tokens[n], rest, found = strings.Cut(rest, ".")
		n++
		if !found {
			break
		}
	}
	if rest != "" && n == len(tokens) {
		n++ // more tokens than a v2 subject needs: they are not read
	}
	n += 2         // $JS and ACK
	var t []string // <stream> onwards
	switch {
	case n == 9:
		t = tokens[:7]
	case n >= 11:
		t = tokens[2:9]
	default:
		return 0, 0, time.Time{}, false
	}
	// t: stream consumer delivered sseq cseq tm pending
	return parseNum(t[3]), parseNum(t[6]), time.Unix(0, int64(parseNum(t[5]))), true
}

// parseNum is the jetstream package's: digits only, else 0.
func parseNum(d string) (n uint64) {
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}
