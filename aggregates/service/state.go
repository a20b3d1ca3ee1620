package service

import (
	"context"
	"fmt"
	"strings"

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
type stateCache struct {
	entries map[string]aggregates.State
	bytes   int // sum of len(Raw) of the entries
}

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
	c.entries[subject] = st
	c.bytes += len(st.Raw)
}

func (c *stateCache) delete(subject string) {
	if old, ok := c.entries[subject]; ok {
		c.bytes -= len(old.Raw)
		delete(c.entries, subject)
	}
}

func (s *Service) remember(subject string, st aggregates.State) {
	s.mu.Lock()
	s.cache.put(subject, st)
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
