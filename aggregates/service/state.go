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
	st, ok := s.cache[subject]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	events, err := s.store.Load(ctx, subject, 0)
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
	if k.Token == "secret" && s.opt.Sealer != nil {
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

// cacheLimit bounds the state cache: the projection already holds every
// object, so this is only the hot set; an evicted object is reloaded from
// its subject, and a stale one costs a conflict and a reload.
const cacheLimit = 8192

func (s *Service) remember(subject string, st aggregates.State) {
	s.mu.Lock()
	if _, ok := s.cache[subject]; !ok && len(s.cache) >= cacheLimit {
		for victim := range s.cache { // map order is random: random eviction
			delete(s.cache, victim)
			break
		}
	}
	s.cache[subject] = st
	s.mu.Unlock()
}

func (s *Service) forget(subject string) {
	s.mu.Lock()
	delete(s.cache, subject)
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
