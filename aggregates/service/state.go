package service

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unsafe"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// load returns an object's state: from the cache when present (a stale
// entry only costs a conflict and a reload), else folded from its subject.
func (s *Service) load(ctx context.Context, k *aggregates.Kind, subject string) (aggregates.State, error) {
	s.mu.Lock()
	st, ok := s.cache.get(subject)
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	return s.refresh(ctx, k, subject, aggregates.State{})
}

// refresh folds the subject's events after st into it, and caches the
// result.
func (s *Service) refresh(ctx context.Context, k *aggregates.Kind, subject string, st aggregates.State) (aggregates.State, error) {
	events, err := s.store.Load(ctx, subject, st.Seq)
	if err != nil {
		return aggregates.State{}, err
	}
	for _, e := range events {
		if st, err = s.fold(k, st, e); err != nil {
			return aggregates.State{}, err
		}
	}
	s.remember(subject, st)
	return st, nil
}

// fold applies one stored event, opening sealed Secret data first.
func (s *Service) fold(k *aggregates.Kind, st aggregates.State, e bus.Envelope) (aggregates.State, error) {
	_, verb, _, err := bus.ParseEventType(e.Type)
	if err != nil {
		return st, err
	}
	data := []byte(e.Data)
	if k.Sealed && s.opt.Sealer != nil {
		if data, err = s.opt.Sealer.OpenEvent(verb, data); err != nil {
			return st, fmt.Errorf("service: event %d: %w", e.Seq, err)
		}
	}
	raw, err := aggregates.Apply(st.Raw, aggregates.Event{Verb: verb, Data: data})
	if err != nil {
		return st, fmt.Errorf("service: event %d: %w", e.Seq, err)
	}
	return aggregates.State{Raw: raw, Seq: e.Seq}, nil
}

// The state cache holds the hot set only: the projection already holds
// every object, an evicted object is reloaded from its subject, and a
// stale one costs a conflict and a reload. It is bounded by entries and by
// the bytes of the objects it holds (a second copy of each), whichever
// comes first: 4 MiB is a few thousand objects of a typical size, the
// ones being created, scheduled and started in a burst, and it stays a
// few MiB whatever the size of the cluster.
const (
	cacheLimit = 8192
	cacheBytes = 4 << 20
)

// stateCache is the command service's cache of object states by event
// subject, evicting at random (map order) when full. Guarded by Service.mu.
//
// It keeps its own copy of each subject and object, written into chunks
// of cacheChunk bytes. Kept where they were made, they sat one or two
// to a span among the garbage of their size class that every command
// makes (decoding and marshalling objects of the same size), and after a
// burst of creates those spans stayed in use for them: 14 MB for a 4 MiB
// cache (BENCHMARKS.md, memory). A chunk is written front to back and
// never changed, so a State handed out stays valid; once the chunks
// written since the last compaction reach twice cacheBytes, the live
// entries are copied to fresh ones and the collector frees the rest.
type stateCache struct {
	entries map[string]aggregates.State
	bytes   int    // sum of len(Raw) of the entries
	chunk   []byte // the chunk being filled
	written int    // bytes written to chunks since the last compaction
}

// cacheChunk is the size of the chunks the cache copies into; objects
// larger than a quarter of it keep an allocation of their own.
const cacheChunk = 64 << 10

func newStateCache() stateCache {
	return stateCache{entries: map[string]aggregates.State{}}
}

func (c *stateCache) get(subject string) (aggregates.State, bool) {
	st, ok := c.entries[subject]
	return st, ok
}

func (c *stateCache) put(subject string, st aggregates.State) {
	c.delete(subject)
	for victim := range c.entries { // map order is random: random eviction
		if len(c.entries) < cacheLimit && c.bytes+len(st.Raw) <= cacheBytes {
			break
		}
		c.delete(victim)
	}
	st.Raw = c.keep(st.Raw)
	c.entries[c.keepString(subject)] = st
	c.bytes += len(st.Raw)
	if c.written >= 2*cacheBytes {
		c.compact()
	}
}

func (c *stateCache) delete(subject string) {
	if old, ok := c.entries[subject]; ok {
		c.bytes -= len(old.Raw)
		delete(c.entries, subject)
	}
}

// keep returns a copy of b in the chunk being filled (b itself when
// empty or large), capped so that appending to it copies.
func (c *stateCache) keep(b []byte) []byte {
	if !c.room(len(b)) {
		return b
	}
	start := len(c.chunk)
	c.chunk = append(c.chunk, b...)
	return c.chunk[start:len(c.chunk):len(c.chunk)]
}

// keepString is keep for a subject: the chunk's bytes are never written
// again, so a string may stand on them.
func (c *stateCache) keepString(s string) string {
	if !c.room(len(s)) {
		return s
	}
	start := len(c.chunk)
	c.chunk = append(c.chunk, s...)
	return unsafe.String(&c.chunk[start], len(s))
}

// room makes room for n bytes in the chunk being filled and counts them
// written; false: n bytes are not copied into chunks.
func (c *stateCache) room(n int) bool {
	if n == 0 || n > cacheChunk/4 {
		return false
	}
	if cap(c.chunk)-len(c.chunk) < n {
		c.chunk = make([]byte, 0, cacheChunk)
	}
	c.written += n
	return true
}

// compact copies every entry to fresh chunks: the ones written so far
// hold as much of what was evicted or replaced as of what is still here.
func (c *stateCache) compact() {
	old := c.entries
	c.entries = make(map[string]aggregates.State, len(old))
	c.chunk, c.written = nil, 0
	for subject, st := range old {
		st.Raw = c.keep(st.Raw)
		c.entries[c.keepString(subject)] = st
	}
}

// cacheIdle: once no command has come for this long, nothing in the cache
// is hot any more, and it goes with the memory it holds (a few MiB and
// its map, more than 40 B per object of a 100,000-object plane at rest;
// BENCHMARKS.md, memory). The next command on an object reads it again.
const cacheIdle = 10 * time.Second

// dropIdleCache empties the cache if no command came in the cacheIdle
// before now.
func (s *Service) dropIdleCache(now time.Time) {
	if now.Sub(time.Unix(0, s.last.Load())) < cacheIdle {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache.entries) > 0 {
		s.cache = newStateCache()
	}
}

// remember keeps st as the subject's state, unless the cache holds a
// later one: a subject's sequence only grows, and a state read or
// appended a moment ago may reach the cache after a later one did (a new
// quota's usage, appended in the same command after its creation; a
// namespace read by one lane while another appended to it).
func (s *Service) remember(subject string, st aggregates.State) {
	s.mu.Lock()
	if cur, ok := s.cache.get(subject); !ok || cur.Seq <= st.Seq {
		s.cache.put(subject, st)
	}
	s.mu.Unlock()
}

func (s *Service) forget(subject string) {
	s.mu.Lock()
	s.cache.delete(subject)
	s.mu.Unlock()
}

// checkNamespace: a namespaced object is created only in a namespace that
// exists and is not terminating.
func (s *Service) checkNamespace(ctx context.Context, k *aggregates.Kind, c aggregates.Command) error {
	if !k.Namespaced || (c.Verb != aggregates.VerbCreate && c.Verb != aggregates.VerbApply) {
		return nil
	}
	nsKind, _ := s.opt.Kinds.Lookup("namespace")
	st, err := s.load(ctx, nsKind, bus.EventSubject(nsKind.Token, "", c.Namespace))
	if err != nil {
		return err
	}
	if !st.Exists() {
		return apierrors.NewNotFound(nsKind.GroupResource(), c.Namespace)
	}
	if strings.Contains(string(st.Raw), `"deletionTimestamp"`) {
		return apierrors.NewForbidden(k.GroupResource(), c.Name, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", c.Namespace))
	}
	return nil
}
