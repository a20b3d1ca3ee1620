// Package commands is how the scheduling loops send what their cores
// decide: concurrently, remembering the stream sequence of the last event
// caused, so the next reconcile of the same object waits until the view
// has folded it (expectations: projection lag never causes a second
// round of creates or deletes).
package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// Commander sends one command; *bus.Client satisfies it.
type Commander interface {
	Do(ctx context.Context, kind, verb string, data any, meta bus.CommandMeta) (bus.Reply, error)
}

// Batch sends commands concurrently.
type Batch struct {
	ctx    context.Context
	client Commander
	g      errgroup.Group
	mu     sync.Mutex
	seq    uint64
	errs   []error
}

// NewBatch starts a batch with at most limit commands in flight.
func NewBatch(ctx context.Context, client Commander, limit int) *Batch {
	b := &Batch{ctx: ctx, client: client}
	b.g.SetLimit(limit)
	return b
}

// Send queues one command; tolerate says which errors are fine (nil: none).
func (b *Batch) Send(kind, verb string, cmd aggregates.Command, reason string, tolerate func(error) bool) {
	b.g.Go(func() error {
		r, err := b.client.Do(b.ctx, kind, verb, cmd, bus.CommandMeta{Reason: reason})
		b.mu.Lock()
		defer b.mu.Unlock()
		if err != nil && (tolerate == nil || !tolerate(err)) {
			b.errs = append(b.errs, err)
		}
		b.seq = max(b.seq, r.Seq)
		return nil
	})
}

// Barrier waits for the commands sent so far before later ones go: what
// comes after it is appended after them.
func (b *Batch) Barrier() { _ = b.g.Wait() }

// Wait waits for every command and returns the highest sequence caused
// and the errors not tolerated.
func (b *Batch) Wait() (uint64, error) {
	_ = b.g.Wait()
	return b.seq, errors.Join(b.errs...)
}

// Progress is how far a loop's stores have folded the stream;
// *informer.Feed satisfies it.
type Progress interface {
	Applied() uint64
	WaitFor(ctx context.Context, seq uint64) error
}

// Expectations remember, per key, the sequence the loop's stores must
// reach before the key is reconciled again.
type Expectations struct {
	view Progress
	mu   sync.Mutex
	seq  map[string]uint64
}

// NewExpectations binds expectations to a loop's progress.
func NewExpectations(view Progress) *Expectations {
	return &Expectations{view: view, seq: map[string]uint64{}}
}

// Expect records that key's last commands caused seq.
func (e *Expectations) Expect(key string, seq uint64) {
	if seq == 0 {
		return
	}
	e.mu.Lock()
	e.seq[key] = max(e.seq[key], seq)
	e.mu.Unlock()
}

// Wait blocks until the view has folded what key expects, at most max.
func (e *Expectations) Wait(ctx context.Context, key string, max time.Duration) {
	e.mu.Lock()
	seq := e.seq[key]
	e.mu.Unlock()
	if seq == 0 || e.view.Applied() >= seq {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	if e.view.WaitFor(ctx, seq) == nil {
		e.mu.Lock()
		if e.seq[key] == seq {
			delete(e.seq, key)
		}
		e.mu.Unlock()
	}
}

// Status sends a status command unless the object's status already is st.
func Status(b *Batch, kind, namespace, name string, current, st any) {
	was, _ := json.Marshal(current)
	now, _ := json.Marshal(st)
	if string(was) == string(now) {
		return
	}
	b.Send(kind, aggregates.VerbStatus, aggregates.Command{Namespace: namespace, Name: name, Status: now}, "status", nil)
}

// Patch sends a merge patch, with a resourceVersion precondition if rv is set.
func Patch(b *Batch, kind, namespace, name, rv string, patch any, reason string, tolerate func(error) bool) {
	raw, _ := json.Marshal(patch)
	b.Send(kind, aggregates.VerbPatch, aggregates.Command{Namespace: namespace, Name: name, ResourceVersion: rv, Patch: raw}, reason, tolerate)
}

// IsConflict reports a refused optimistic write: a Kubernetes conflict,
// or the command service's report of a lost append race when the command
// carried a resourceVersion (it comes back as an internal error naming
// bus.ErrConflict).
func IsConflict(err error) bool {
	if err == nil {
		return false
	}
	return apierrors.IsConflict(err) || apierrors.IsInternalError(err) && strings.Contains(err.Error(), bus.ErrConflict.Error())
}
