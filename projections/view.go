package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// Entry is one current object: its JSON (without resourceVersion) and the
// sequence of its last event, which is its resourceVersion.
type Entry struct {
	Kind, Namespace, Name string
	Raw                   []byte
	Seq                   uint64

	chunk *chunk // where the View keeps Raw (see arena)
}

// Object returns the entry's JSON with metadata.resourceVersion set.
func (e Entry) Object() []byte {
	out, err := aggregates.WithResourceVersion(e.Raw, e.Seq)
	if err != nil {
		return e.Raw
	}
	return out
}

// Change is what one folded event did to one object.
type Change struct {
	Entry
	Verb    string
	Deleted bool
}

// View is the current state of every object, folded from events.
type View struct {
	sealer *seal.Sealer

	mu      sync.RWMutex
	objects map[string]map[string]*Entry // kind token → "ns/name"
	subs    []watcher                    // replaced, never changed in place: Fold calls a copy outside the lock
	nextSub int

	progress Progress // the last event folded

	arena   arena
	entries []Entry  // a block entries are taken from, in order
	free    []*Entry // entries of deleted objects, to take again

	// While deferring (a catch-up folding the stream), an object's run of
	// scaled, labeled, bound and status events is merged and applied in
	// one pass when the object is next read, changed otherwise, or the
	// deferring ends; see deferEdits.
	pending  map[*Entry]*aggregates.Edits // non-nil while deferring
	deferErr error                        // a merged run the fast path declined (a bug: Editable admitted the object)
}

// NewView makes an empty view; sealer opens Secret data (nil: left sealed).
func NewView(sealer *seal.Sealer) *View {
	return &View{sealer: sealer, objects: map[string]map[string]*Entry{}}
}

// OnChange registers fn to be called, in order, after every change folded.
// Register before folding starts, or seed from List (informer.NewFeed).
func (v *View) OnChange(fn func(Change)) { v.Watch(fn) }

// Watch is OnChange until stop is called. A change being handed out as stop
// runs may still reach fn once.
func (v *View) Watch(fn func(Change)) (stop func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.flushAll() // what fn is told follows what the View holds
	v.nextSub++
	id := v.nextSub
	v.subs = append(slices.Clip(v.subs), watcher{id, fn})
	return func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.subs = slices.DeleteFunc(slices.Clone(v.subs), func(w watcher) bool { return w.id == id })
	}
}

// watcher is one OnChange or Watch registration.
type watcher struct {
	id int
	fn func(Change)
}

// Fold applies one event to the view.
func (v *View) Fold(e bus.Envelope) error {
	kind, ns, name, err := bus.ParseEventSubject(e.StreamSubject)
	if err != nil {
		return err
	}
	_, verb, _, err := bus.ParseEventType(e.Type)
	if err != nil {
		return err
	}
	data := []byte(e.Data)
	if aggregates.IsSealed(kind) && v.sealer != nil {
		if data, err = v.sealer.OpenEvent(verb, data); err != nil {
			return fmt.Errorf("projections: event %d: %w", e.Seq, err)
		}
	}
	v.mu.Lock()
	byKey := v.objects[kind]
	if byKey == nil {
		byKey = map[string]*Entry{}
		v.objects[kind] = byKey
	}
	cur := byKey[ns+"/"+name] // a key built only to look up stays off the heap
	if cur != nil && v.pending != nil && len(v.subs) == 0 && v.deferEdit(cur, verb, data) {
		cur.Seq = e.Seq
		v.mu.Unlock()
		v.progress.Advance(e.Seq)
		return nil
	}
	if cur != nil && verb == aggregates.Deleted {
		delete(v.pending, cur) // what it would have changed goes with it
	} else if cur != nil {
		if err := v.flushEdits(cur); err != nil {
			v.mu.Unlock()
			return err
		}
	}
	var prev, raw []byte
	if cur != nil {
		prev = cur.Raw
	}
	// Apply returns a created event's data as it is: an event appended by
	// hand, past the command service, must not put anything but JSON in
	// the view (edits are checked by Apply itself).
	if verb == aggregates.Created && !jsonscan.Valid(data) {
		err = errors.New("the created object is not valid JSON")
	} else {
		// Written where the View keeps it, when it fits (arena.keep).
		raw, err = aggregates.AppendApply(v.arena.tail(), prev, aggregates.Event{Verb: verb, Data: data})
	}
	if err != nil {
		v.mu.Unlock()
		return fmt.Errorf("projections: event %d on %s: %w", e.Seq, e.StreamSubject, err)
	}
	ch := Change{Entry: Entry{Kind: kind, Namespace: ns, Name: name, Seq: e.Seq}, Verb: verb, Deleted: raw == nil}
	switch {
	case raw == nil && cur != nil:
		delete(byKey, ns+"/"+name)
		v.arena.keep(cur, nil)
		*cur = Entry{}
		v.free = append(v.free, cur)
	case raw == nil:
	case cur != nil:
		v.arena.keep(cur, raw) // readers copy entries under the lock
		cur.Seq = e.Seq
		ch.Raw = cur.Raw
	default:
		// The entry's strings share one allocation with its key, not the
		// delivered subject they were cut from (which they would keep alive).
		key := ns + "/" + name
		entry := v.newEntry()
		entry.Kind, entry.Namespace, entry.Name, entry.Seq = kindToken(kind), key[:len(ns)], key[len(ns)+1:], e.Seq
		v.arena.keep(entry, raw)
		byKey[key] = entry
		ch.Raw = entry.Raw
	}
	subs := v.subs
	v.mu.Unlock()
	v.progress.Advance(e.Seq)
	for _, w := range subs {
		w.fn(ch)
	}
	return nil
}

// deferEdits starts deferring runs of edits; endDeferring applies them.
//
// Folding a stream from the start, most events edit an object that the
// next few thousand events edit again; applying each one splits and
// writes the whole object. Deferred, an object's run of events the fast
// path takes (aggregates.Edits) costs one split and one write, however
// long. Only objects aggregates.Editable admits are deferred, so the
// merged edits write the bytes the events would have written one by one
// (TestEditsMatchApplyingInTurn); any other event on the object applies
// its run first. Reads apply every run before they look, and nothing is
// deferred while anyone watches the View's changes.
func (v *View) deferEdits() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pending == nil {
		v.pending = map[*Entry]*aggregates.Edits{}
	}
}

// replayDeferred folds the stream's events up to upTo through fold with
// runs of edits deferred, and applies them at the end; the error is the
// replay's, or else endDeferring's.
func (v *View) replayDeferred(ctx context.Context, store *bus.Store, upTo uint64, fold func(bus.Envelope) error) error {
	v.deferEdits()
	err := store.ReplayData(ctx, nil, 1, upTo, fold)
	if derr := v.endDeferring(); err == nil {
		err = derr
	}
	return err
}

// endDeferring applies every deferred run and stops deferring; the error
// is that of a run the fast path declined, if any.
func (v *View) endDeferring() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.flushAll()
	v.pending = nil // stops deferring; and a map keeps the room of its largest size
	err := v.deferErr
	v.deferErr = nil
	return err
}

// deferEdit merges the event into the object's run; false: it is not one
// to defer, and the caller applies it (after the run). Under v.mu.
func (v *View) deferEdit(cur *Entry, verb string, data []byte) bool {
	ev := aggregates.Event{Verb: verb, Data: data}
	if x := v.pending[cur]; x != nil {
		return x.Add(ev)
	}
	if !aggregates.Editable(cur.Raw) {
		return false
	}
	x := &aggregates.Edits{}
	if !x.Add(ev) {
		return false
	}
	v.pending[cur] = x
	return true
}

// flushEdits applies the object's deferred run, if any. Under v.mu.
func (v *View) flushEdits(e *Entry) error {
	x := v.pending[e]
	if x == nil {
		return nil
	}
	delete(v.pending, e)
	raw, ok := x.AppendTo(v.arena.tail(), e.Raw)
	if !ok {
		err := fmt.Errorf("projections: %s %s/%s: the deferred edits up to event %d were declined", e.Kind, e.Namespace, e.Name, e.Seq)
		if v.deferErr == nil {
			v.deferErr = err
		}
		return err
	}
	v.arena.keep(e, raw)
	return nil
}

// flushAll applies every deferred run. Under v.mu.
func (v *View) flushAll() {
	for e := range v.pending {
		_ = v.flushEdits(e) // kept in deferErr
	}
}

// current is Get for a fold's own reads while deferring: it applies that
// object's run only.
func (v *View) current(kind, namespace, name string) (Entry, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.objects[kind][namespace+"/"+name]
	if e == nil {
		return Entry{}, false
	}
	_ = v.flushEdits(e) // an error is kept in deferErr, for endDeferring
	return *e, true
}

// rlock takes the read lock once no deferred run is left.
func (v *View) rlock() {
	for {
		v.mu.RLock()
		if len(v.pending) == 0 {
			return
		}
		v.mu.RUnlock()
		v.mu.Lock()
		v.flushAll()
		v.mu.Unlock()
	}
}

// newEntry takes an entry for a new object: one a deleted object left,
// or the next of a block. Blocks of entries, like the arena's chunks, keep
// them off the spans of short-lived garbage of their size.
func (v *View) newEntry() *Entry {
	if n := len(v.free); n > 0 {
		e := v.free[n-1]
		v.free = v.free[:n-1]
		return e
	}
	if len(v.entries) == cap(v.entries) {
		v.entries = make([]Entry, 0, entryBlock)
	}
	v.entries = v.entries[:len(v.entries)+1]
	return &v.entries[len(v.entries)-1]
}

const entryBlock = 1024

// kindToken is the built-in kind's own token string for kind, so that
// entries share it; a kind Gantry does not know keeps a copy of its own.
func kindToken(kind string) string {
	if k, ok := aggregates.BuiltinKind(kind); ok && k.Token == kind {
		return k.Token
	}
	return strings.Clone(kind)
}

// Advance records that the stream holds nothing new up to seq (an empty
// stream, or a point-in-time view cut between events).
func (v *View) Advance(seq uint64) { v.progress.Advance(seq) }

// Applied is the sequence of the last event folded.
func (v *View) Applied() uint64 { return v.progress.Seq() }

// WaitFor blocks until the view has folded seq, or ctx ends.
func (v *View) WaitFor(ctx context.Context, seq uint64) error {
	if err := v.progress.WaitFor(ctx, seq); err != nil {
		return fmt.Errorf("projections: waiting for event %d: %w", seq, err)
	}
	return nil
}

// Get returns one object.
func (v *View) Get(kind, namespace, name string) (Entry, bool) {
	v.rlock()
	defer v.mu.RUnlock()
	e := v.objects[kind][namespace+"/"+name]
	if e == nil {
		return Entry{}, false
	}
	return *e, true
}

// List returns the objects of a kind in a namespace ("" for all), sorted
// by namespace and name.
func (v *View) List(kind, namespace string) []Entry {
	v.rlock()
	out := make([]Entry, 0, len(v.objects[kind]))
	for _, e := range v.objects[kind] {
		if namespace == "" || e.Namespace == namespace {
			out = append(out, *e)
		}
	}
	v.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Len is the number of objects held.
func (v *View) Len() int {
	v.rlock()
	defer v.mu.RUnlock()
	n := 0
	for _, m := range v.objects {
		n += len(m)
	}
	return n
}
