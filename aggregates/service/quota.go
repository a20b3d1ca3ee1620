package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// policies indexes the ResourceQuotas and LimitRanges of each namespace,
// followed from their events, so admission costs no lookup when a
// namespace has none.
type policies struct {
	mu     sync.RWMutex
	byKind map[string]map[string]map[string]bool // kind → namespace → names; its keys are fixed (newPolicies)
}

func newPolicies() *policies {
	return &policies{byKind: map[string]map[string]map[string]bool{"resourcequota": {}, "limitrange": {}}}
}

func (p *policies) names(kind, ns string) []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []string
	for n := range p.byKind[kind][ns] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (p *policies) observe(e bus.Envelope) error {
	kind, ns, name, err := bus.ParseEventSubject(e.StreamSubject)
	if err != nil {
		return nil
	}
	_, verb, _, _ := bus.ParseEventType(e.Type)
	p.note(kind, ns, name, verb)
	return nil
}

// note records one quota or limit range event; the replica that appended
// it notes it at once, others when the event reaches them.
func (p *policies) note(kind, ns, name, verb string) {
	byNS, ok := p.byKind[kind] // the kinds never change: no lock to read which they are
	if !ok {
		return // every command on any other kind: no lock taken
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if byNS[ns] == nil {
		byNS[ns] = map[string]bool{}
	}
	if verb == aggregates.Deleted {
		delete(byNS[ns], name)
	} else {
		byNS[ns][name] = true
	}
}

// followPolicies keeps the index current until ctx ends.
func (s *Service) followPolicies(ctx context.Context, from uint64) error {
	err := s.store.FollowSubjects(ctx, policyFilters, from, s.policies.observe)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

var policyFilters = []string{bus.EventFilter("resourcequota", ""), bus.EventFilter("limitrange", "")}

// loadPolicies notes every quota and limit range up to the stream's head,
// and returns the head: the service takes no command before it knows
// them, or the first commands after a start would be charged to nothing.
func (s *Service) loadPolicies(ctx context.Context) (uint64, error) {
	head, _, err := s.store.Head(ctx)
	if err != nil {
		return 0, fmt.Errorf("service: policies: %w", err)
	}
	if head == 0 {
		return 0, nil
	}
	if err := s.store.Replay(ctx, policyFilters, 1, head, s.policies.observe); err != nil {
		return 0, fmt.Errorf("service: policies: %w", err)
	}
	return head, nil
}

// limitRanges fills a new pod's defaults from its namespace's LimitRanges
// before it is decided, so the object stored is the object that runs.
func (s *Service) limitRanges(ctx context.Context, k *aggregates.Kind, state aggregates.State, cmd *aggregates.Command) error {
	if k.Token != "pod" || state.Exists() || len(cmd.Object) == 0 {
		return nil
	}
	names := s.policies.names("limitrange", cmd.Namespace)
	if len(names) == 0 {
		return nil
	}
	lrKind, _ := s.opt.Kinds.Lookup("limitrange")
	var ranges []*corev1.LimitRange
	for _, n := range names {
		st, err := s.load(ctx, lrKind, bus.EventSubject(lrKind.Token, cmd.Namespace, n))
		if err != nil || !st.Exists() {
			continue
		}
		lr := &corev1.LimitRange{}
		if json.Unmarshal(st.Raw, lr) == nil {
			ranges = append(ranges, lr)
		}
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(cmd.Object, pod); err != nil {
		return nil // Decide refuses it with the field and the rule
	}
	if err := aggregates.ApplyLimitRanges(pod, ranges); err != nil {
		return err
	}
	obj, err := json.Marshal(pod)
	if err != nil {
		return err
	}
	cmd.Object = obj
	return nil
}

// charge is one quota's share of an admitted object, to undo if the
// object's own append fails.
type charge struct {
	subject string
	usage   corev1.ResourceList
}

// chargeQuotas charges a created object's usage to every quota of its
// namespace, each with the quota's expected sequence (so two creates can
// never both take the last unit), or refuses the create.
func (s *Service) chargeQuotas(ctx context.Context, k *aggregates.Kind, cmd aggregates.Command, d aggregates.Decision, cmdEnv bus.Envelope) ([]charge, error) {
	if d.Event == nil || d.Event.Verb != aggregates.Created || !k.Namespaced || k.Token == "resourcequota" {
		return nil, nil
	}
	names := s.policies.names("resourcequota", cmd.Namespace)
	if len(names) == 0 {
		return nil, nil
	}
	obj := k.New()
	if err := json.Unmarshal(d.Event.Data, obj); err != nil {
		return nil, err
	}
	usage := aggregates.Usage(k, obj)
	var done []charge
	for _, n := range names {
		subject, err := s.adjustQuota(ctx, cmd.Namespace, n, cmdEnv, func(q *corev1.ResourceQuota) (corev1.ResourceList, error) {
			return aggregates.Charge(q, k, cmd.Name, usage)
		})
		if err != nil {
			s.releaseCharges(ctx, done, cmdEnv)
			return nil, err
		}
		if subject != "" {
			done = append(done, charge{subject: subject, usage: usage})
		}
	}
	return done, nil
}

// releaseQuotas gives back a deleted object's usage.
func (s *Service) releaseQuotas(ctx context.Context, k *aggregates.Kind, cmd aggregates.Command, before aggregates.State, d aggregates.Decision, cmdEnv bus.Envelope) {
	if d.Event == nil || d.Event.Verb != aggregates.Deleted || !k.Namespaced || before.Raw == nil {
		return
	}
	names := s.policies.names("resourcequota", cmd.Namespace)
	if len(names) == 0 {
		return
	}
	obj := k.New()
	if json.Unmarshal(before.Raw, obj) != nil {
		return
	}
	usage := aggregates.Usage(k, obj)
	for _, n := range names {
		_, _ = s.adjustQuota(ctx, cmd.Namespace, n, cmdEnv, func(q *corev1.ResourceQuota) (corev1.ResourceList, error) {
			return aggregates.Release(q, usage), nil
		})
	}
}

func (s *Service) releaseCharges(ctx context.Context, charges []charge, cmdEnv bus.Envelope) {
	for _, c := range charges {
		_, ns, name, _ := bus.ParseEventSubject(c.subject)
		_, _ = s.adjustQuota(ctx, ns, name, cmdEnv, func(q *corev1.ResourceQuota) (corev1.ResourceList, error) {
			return aggregates.Release(q, c.usage), nil
		})
	}
}

// adjustQuota appends a quota's new status.used, computed by f, with the
// quota's expected sequence; it retries on conflict. It returns the
// quota's subject ("" when the quota is gone).
func (s *Service) adjustQuota(ctx context.Context, ns, name string, cmdEnv bus.Envelope, f func(*corev1.ResourceQuota) (corev1.ResourceList, error)) (string, error) {
	qk, _ := s.opt.Kinds.Lookup("resourcequota")
	subject := bus.EventSubject(qk.Token, ns, name)
	for attempt := 0; attempt <= s.opt.Retries; attempt++ {
		st, err := s.load(ctx, qk, subject)
		if err != nil {
			return "", err
		}
		if !st.Exists() {
			return "", nil
		}
		q := &corev1.ResourceQuota{}
		if err := json.Unmarshal(st.Raw, q); err != nil {
			return "", err
		}
		used, err := f(q)
		if err != nil {
			return "", err
		}
		if err := s.appendQuotaStatus(ctx, qk, subject, st, q, used, cmdEnv); !errors.Is(err, bus.ErrConflict) {
			return subject, err
		}
		s.forget(subject)
	}
	return "", fmt.Errorf("service: quota %s/%s: %w", ns, name, bus.ErrConflict)
}

func (s *Service) appendQuotaStatus(ctx context.Context, qk *aggregates.Kind, subject string, st aggregates.State, q *corev1.ResourceQuota, used corev1.ResourceList, cmdEnv bus.Envelope) error {
	status := corev1.ResourceQuotaStatus{Hard: q.Spec.Hard, Used: used}
	raw, _ := json.Marshal(status)
	d, err := aggregates.Decide(qk, st, aggregates.Command{Kind: qk.Token, Verb: aggregates.VerbStatus, Namespace: q.Namespace, Name: q.Name, Status: raw}, aggregates.Env{Now: s.opt.Now(), NewUID: s.opt.NewUID})
	if err != nil || d.Event == nil {
		return err
	}
	next, err := aggregates.Apply(st.Raw, *d.Event)
	if err != nil {
		return err
	}
	ev, err := s.envelope(qk, aggregates.Command{Namespace: q.Namespace, Name: q.Name}, cmdEnv, *d.Event)
	if err != nil {
		return err
	}
	seq, err := s.store.Append(ctx, subject, st.Seq, ev)
	if err != nil {
		return err
	}
	s.remember(subject, aggregates.State{Raw: stamp(next, seq), Seq: seq})
	return nil
}

// initialUsage counts what a new quota's namespace already holds, from the
// current-state bucket, and records it as the quota's status.
func (s *Service) initialUsage(ctx context.Context, cmd aggregates.Command, cmdEnv bus.Envelope) error {
	kv, err := s.conn.JS.KeyValue(ctx, bus.StateBucket)
	if err != nil {
		return err
	}
	total := corev1.ResourceList{}
	for _, k := range s.opt.Kinds.Kinds() {
		if !k.Namespaced || k.Token == "resourcequota" {
			continue
		}
		keys, err := kv.ListKeysFiltered(ctx, bus.StateKeyFilter(k.Token, cmd.Namespace))
		if err != nil {
			return err
		}
		for key := range keys.Keys() {
			entry, err := kv.Get(ctx, key)
			if err != nil {
				continue
			}
			var v struct {
				Object json.RawMessage `json:"object"`
			}
			obj := k.New()
			if json.Unmarshal(entry.Value(), &v) != nil || json.Unmarshal(v.Object, obj) != nil {
				continue
			}
			for res, q := range aggregates.Usage(k, obj) {
				cur := total[res]
				cur.Add(q)
				total[res] = cur
			}
		}
	}
	_, err = s.adjustQuota(ctx, cmd.Namespace, cmd.Name, cmdEnv, func(q *corev1.ResourceQuota) (corev1.ResourceList, error) {
		used := corev1.ResourceList{}
		for res := range q.Spec.Hard {
			v, ok := total[res]
			if !ok {
				v = apiresource.MustParse("0")
			}
			used[res] = v
		}
		return used, nil
	})
	return err
}
