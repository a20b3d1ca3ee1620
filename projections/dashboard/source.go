package dashboard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// Store is the part of the event store the dashboard reads; *bus.Store
// has it.
type Store interface {
	Head(ctx context.Context) (uint64, time.Time, error)
	Replay(ctx context.Context, filters []string, from, upTo uint64, fn func(bus.Envelope) error) error
	Load(ctx context.Context, subject string, after uint64) ([]bus.Envelope, error)
	SeqAt(ctx context.Context, t time.Time) (uint64, error)
}

var _ Store = (*bus.Store)(nil)

// errBadAt: the at parameter is neither a sequence nor an RFC 3339 time.
var errBadAt = errors.New("want a stream sequence such as 42 or an RFC 3339 time such as 2026-11-21T10:00:00Z")

// snapshot is the view a request reads: the live one, or one rebuilt as of
// a past sequence.
type snapshot struct {
	view *projections.View
	Past bool      // a rebuilt view, not the live one
	At   string    // what the user asked for, as given
	Seq  uint64    // the last sequence the view reflects
	Time time.Time // when that event was stored (zero: unknown or empty)
}

// now is the instant ages are measured from: the wall clock for the live
// view, the time of the cut for a past one.
func (s snapshot) now() time.Time {
	if s.Past && !s.Time.IsZero() {
		return s.Time
	}
	return time.Now()
}

// history keeps the few past views last asked for: a page and the API
// calls it makes read the same cut, and each rebuild folds the stream.
type history struct {
	store  Store
	sealer *seal.Sealer

	mu    sync.Mutex
	views []snapshot // most recent last
}

const keptPastViews = 4

// resolve turns "at" into a sequence: a number is one, a time is looked up.
func (h *history) resolve(ctx context.Context, at string) (uint64, error) {
	if seq, err := strconv.ParseUint(at, 10, 64); err == nil {
		return seq, nil
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return 0, fmt.Errorf("as of %q: %w", at, errBadAt)
	}
	return h.store.SeqAt(ctx, t)
}

// past is the cluster as of at.
func (h *history) past(ctx context.Context, at string) (snapshot, error) {
	seq, err := h.resolve(ctx, at)
	if err != nil {
		return snapshot{}, err
	}
	head, _, err := h.store.Head(ctx)
	if err != nil {
		return snapshot{}, err
	}
	seq = min(seq, head)
	if s, ok := h.cached(seq); ok {
		s.At = at
		return s, nil
	}
	s, err := h.rebuild(ctx, seq)
	if err != nil {
		return snapshot{}, err
	}
	h.mu.Lock()
	h.views = append(h.views, s)
	if len(h.views) > keptPastViews {
		h.views = h.views[1:]
	}
	h.mu.Unlock()
	s.At = at
	return s, nil
}

func (h *history) cached(seq uint64) (snapshot, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.views {
		if s.Seq == seq {
			return s, true
		}
	}
	return snapshot{}, false
}

// rebuild folds the stream up to seq, as projections.At does, noting when
// the last event folded was stored.
func (h *history) rebuild(ctx context.Context, seq uint64) (snapshot, error) {
	v := projections.NewView(h.sealer)
	var last time.Time
	err := h.store.Replay(ctx, nil, 1, seq, func(e bus.Envelope) error {
		last = e.Stored
		return v.Fold(e)
	})
	if err != nil {
		return snapshot{}, fmt.Errorf("dashboard: rebuild as of %d: %w", seq, err)
	}
	v.Advance(seq)
	return snapshot{view: v, Past: true, Seq: seq, Time: last}, nil
}
