// Package informer gives the scheduling loops typed, indexed copies of the
// objects of a projections.View: a Feed takes the view's changes without
// ever blocking the projector and hands them, in order, to one goroutine;
// a Store decodes each changed object once and keeps it by key and by
// index (controller owner, node, namespace).
package informer

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/projections"
)

// Feed buffers a view's changes of some kinds.
type Feed struct {
	kinds map[string]bool
	mu    sync.Mutex
	buf   []projections.Change
	wake  chan struct{}

	// every change up to here has been handed to Run's fn
	progress projections.Progress
	// the last sequence among the objects the feed was seeded with
	seeded uint64

	stop   func() // ends the view's calls
	closed bool   // by Close: nothing more is buffered
}

// NewFeed registers on view for the given kinds and seeds the feed with
// the objects the view already holds (Stores ignore what they have seen).
// Run closes it as it returns; a loop that takes changes itself calls Close.
func NewFeed(view *projections.View, kinds ...string) *Feed {
	f := &Feed{kinds: map[string]bool{}, wake: make(chan struct{}, 1)}
	for _, k := range kinds {
		f.kinds[k] = true
	}
	f.stop = view.Watch(f.push)
	var seed []projections.Change
	for _, k := range kinds {
		for _, e := range view.List(k, "") {
			seed = append(seed, projections.Change{Entry: e, Verb: "seed"})
			f.seeded = max(f.seeded, e.Seq)
		}
	}
	f.mu.Lock()
	f.buf = append(seed, f.buf...)
	f.mu.Unlock()
	f.signal()
	return f
}

func (f *Feed) push(c projections.Change) {
	if !f.kinds[c.Kind] {
		c = projections.Change{Entry: projections.Entry{Seq: c.Seq}} // a marker: progress only
	}
	f.mu.Lock()
	if !f.closed {
		f.buf = append(f.buf, c)
	}
	f.mu.Unlock()
	f.signal()
}

// Close unregisters the feed from its view and drops what it buffered: a
// loop that stopped (its leadership ended, say) holds nothing and gets
// nothing more.
func (f *Feed) Close() {
	f.stop()
	f.mu.Lock()
	f.closed, f.buf = true, nil
	f.mu.Unlock()
}

func (f *Feed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Next returns every change buffered so far, waiting for at least one
// until ctx ends (nil then).
func (f *Feed) Next(ctx context.Context) []projections.Change {
	for {
		f.mu.Lock()
		batch := f.buf
		f.buf = nil
		f.mu.Unlock()
		if len(batch) > 0 {
			return batch
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.wake:
		}
	}
}

// Ready is signalled when changes may be waiting; Take them.
func (f *Feed) Ready() <-chan struct{} { return f.wake }

// Take returns the changes buffered so far without waiting (for a
// caller that folds them itself: WaitFor does not track it).
func (f *Feed) Take() []projections.Change {
	f.mu.Lock()
	batch := f.buf
	f.buf = nil
	f.mu.Unlock()
	out := batch[:0]
	for _, c := range batch {
		if c.Kind != "" {
			out = append(out, c)
		}
	}
	return out
}

// Run calls fn for every change until ctx ends, then closes the feed.
func (f *Feed) Run(ctx context.Context, fn func(projections.Change)) {
	defer f.Close()
	for {
		batch := f.Next(ctx)
		if batch == nil {
			return
		}
		var last uint64
		for _, c := range batch {
			if c.Kind != "" {
				fn(c)
			}
			last = max(last, c.Seq)
		}
		f.advance(last)
	}
}

func (f *Feed) advance(seq uint64) { f.progress.Advance(seq) }

// Applied is the sequence up to which every change has been handed to
// Run's fn: the stores it feeds reflect at least that much.
func (f *Feed) Applied() uint64 { return f.progress.Seq() }

// WaitFor blocks until Run has handed on every change up to seq, or ctx ends.
func (f *Feed) WaitFor(ctx context.Context, seq uint64) error { return f.progress.WaitFor(ctx, seq) }

// WaitSeeded blocks until Run has handed on every object the view held
// at NewFeed, or ctx ends. A loop starts its workers after it (client-go's
// WaitForCacheSync): a worker that ran earlier would reconcile an owner
// whose children were not all in the store yet and act on that partial
// picture, e.g. create a pod that exists, or report a status that is
// false, on every restart.
func (f *Feed) WaitSeeded(ctx context.Context) error { return f.progress.WaitFor(ctx, f.seeded) }

// IndexFunc names the index values of an object.
type IndexFunc[T any] func(*T) []string

// Object is a pointer to a Kubernetes object type.
type Object[T any] interface {
	*T
	metav1.Object
}

// Store is the decoded objects of one kind, keyed "namespace/name". The
// objects it hands out are shared: callers must not modify them.
type Store[T any, P Object[T]] struct {
	mu       sync.RWMutex
	items    map[string]*T
	seqs     map[string]uint64 // last sequence seen, deletions included
	indexers map[string]IndexFunc[T]
	indices  map[string]map[string]map[string]*T
}

// NewStore makes an empty store with the given indexes.
func NewStore[T any, P Object[T]](indexers map[string]IndexFunc[T]) *Store[T, P] {
	s := &Store[T, P]{items: map[string]*T{}, seqs: map[string]uint64{}, indexers: indexers, indices: map[string]map[string]map[string]*T{}}
	for name := range indexers {
		s.indices[name] = map[string]map[string]*T{}
	}
	return s
}

// Key is the store key of an object.
func Key(namespace, name string) string { return namespace + "/" + name }

// Apply folds one change; it returns the object before and after (nil when
// absent) and false if the change was older than what the store holds or
// could not be decoded.
func (s *Store[T, P]) Apply(c projections.Change) (old, cur *T, ok bool) {
	key := Key(c.Namespace, c.Name)
	if !c.Deleted {
		cur = new(T)
		if err := json.Unmarshal(c.Raw, cur); err != nil {
			return nil, nil, false
		}
		P(cur).SetResourceVersion(strconv.FormatUint(c.Seq, 10))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Seq != 0 && c.Seq <= s.seqs[key] {
		return nil, nil, false
	}
	s.seqs[key] = c.Seq
	old = s.items[key]
	if old != nil {
		s.unindex(key, old)
	}
	if cur == nil {
		delete(s.items, key)
		return old, nil, true
	}
	s.items[key] = cur
	for name, fn := range s.indexers {
		for _, v := range fn(cur) {
			m := s.indices[name][v]
			if m == nil {
				m = map[string]*T{}
				s.indices[name][v] = m
			}
			m[key] = cur
		}
	}
	return old, cur, true
}

func (s *Store[T, P]) unindex(key string, obj *T) {
	for name, fn := range s.indexers {
		for _, v := range fn(obj) {
			if m := s.indices[name][v]; m != nil {
				delete(m, key)
				if len(m) == 0 {
					delete(s.indices[name], v)
				}
			}
		}
	}
}

// Get returns one object or nil.
func (s *Store[T, P]) Get(key string) *T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.items[key]
}

// List returns every object.
func (s *Store[T, P]) List() []*T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*T, 0, len(s.items))
	for _, o := range s.items {
		out = append(out, o)
	}
	return out
}

// Keys returns every key.
func (s *Store[T, P]) Keys() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.items))
	for k := range s.items {
		out = append(out, k)
	}
	return out
}

// ByIndex returns the objects whose index name has value.
func (s *Store[T, P]) ByIndex(name, value string) []*T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.indices[name][value]
	out := make([]*T, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	return out
}

// Len is the number of objects held.
func (s *Store[T, P]) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.items)
}

// Index names shared by the loops.
const (
	ByController = "controller" // the controller owner's UID; "orphan/<ns>" for none
	ByNamespace  = "namespace"
	ByUID        = "uid"
)

// ControllerIndex indexes an object by its controller owner's UID, and an
// object without one as "orphan/<namespace>".
func ControllerIndex[T any, P Object[T]](o *T) []string {
	ref := metav1.GetControllerOfNoCopy(P(o))
	if ref == nil {
		return []string{"orphan/" + P(o).GetNamespace()}
	}
	return []string{string(ref.UID)}
}

// NamespaceIndex indexes an object by namespace.
func NamespaceIndex[T any, P Object[T]](o *T) []string {
	return []string{P(o).GetNamespace()}
}

// KeyOf is the store key of a typed object.
func KeyOf(o metav1.Object) string { return Key(o.GetNamespace(), o.GetName()) }

// UIDIndex indexes an object by its UID.
func UIDIndex[T any, P Object[T]](o *T) []string {
	return []string{string(P(o).GetUID())}
}
