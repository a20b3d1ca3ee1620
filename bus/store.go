package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	body, err := e.Marshal()
	if err != nil {
		return 0, err
	}
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{"Content-Type": []string{ContentType}}}
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(expected), jetstream.WithMsgID(e.ID))
	if err == nil {
		return ack.Sequence, nil
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
func (s *Store) Load(ctx context.Context, subject string, after uint64) ([]Envelope, error) {
	last, err := s.LastSeq(ctx, subject)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil || last <= after {
		return nil, err
	}
	var out []Envelope
	err = s.replay(ctx, []string{subject}, after+1, last, func(e Envelope) error {
		out = append(out, e)
		return nil
	})
	return out, err
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
	return s.replay(ctx, filters, from, upTo, fn)
}

// SeqAt is the sequence of the last event stored at or before t (0 if none).
func (s *Store) SeqAt(ctx context.Context, t time.Time) (uint64, error) {
	head, headTime, err := s.Head(ctx)
	if err != nil || head == 0 || !t.Before(headTime) {
		return head, err
	}
	after := t.Add(time.Nanosecond)
	cons, err := s.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &after,
	})
	if err != nil {
		return 0, fmt.Errorf("bus: seek %s: %w", t, err)
	}
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

func (s *Store) replay(ctx context.Context, filters []string, from, upTo uint64, fn func(Envelope) error) error {
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
	cons, err := s.js.OrderedConsumer(ctx, EventsStream, cfg)
	if err != nil {
		return fmt.Errorf("bus: replay: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return fmt.Errorf("bus: replay: %w", err)
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
			return fmt.Errorf("bus: replay: %w", err)
		}
		e, seq, err := decodeMsg(msg)
		if err != nil {
			return err
		}
		if seq > upTo {
			return nil
		}
		if err := fn(e); err != nil {
			return err
		}
		if seq == upTo {
			return nil
		}
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
	cons, err := s.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
	})
	if err != nil {
		return fmt.Errorf("bus: follow: %w", err)
	}
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
		e, _, err := decodeMsg(msg)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

func decodeMsg(msg jetstream.Msg) (Envelope, uint64, error) {
	md, err := msg.Metadata()
	if err != nil {
		return Envelope{}, 0, fmt.Errorf("bus: metadata of %s: %w", msg.Subject(), err)
	}
	e, err := UnmarshalEnvelope(msg.Data())
	if err != nil {
		return Envelope{}, 0, fmt.Errorf("bus: event %d on %s: %w", md.Sequence.Stream, msg.Subject(), err)
	}
	e.Seq, e.Stored, e.StreamSubject = md.Sequence.Stream, md.Timestamp, msg.Subject()
	return e, md.Sequence.Stream, nil
}
