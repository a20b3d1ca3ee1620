package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// Validator checks a command's data against its schema.
type Validator interface {
	ValidateCommand(kind, verb string, data []byte) error
}

// Options configure a Service.
type Options struct {
	Kinds     *aggregates.Registry
	Sealer    *seal.Sealer
	Validator Validator
	Metrics   *Metrics
	Now       func() time.Time
	NewUID    func() string
	Lanes     int         // parallel lanes; default 64
	Retries   int         // conflict retries; default 10
	Alloc     AllocConfig // service IPs and node ports (alloc.go)
}

// Service decides and appends commands.
type Service struct {
	conn  *bus.Conn
	store *bus.Store
	opt   Options
	lanes []chan *nats.Msg

	mu       sync.Mutex
	cache    stateCache   // by event subject (state.go)
	last     atomic.Int64 // when the last command came, Unix nanoseconds (dropIdleCache)
	policies *policies    // quotas and limit ranges by namespace
	gate     sync.RWMutex // held to stop routing into lanes
	stopped  bool

	afterAnswer func() // tests: called between an answer and what follows it
}

// New makes a command service on conn.
func New(ctx context.Context, conn *bus.Conn, opt Options) (*Service, error) {
	store, err := bus.NewStore(ctx, conn)
	if err != nil {
		return nil, err
	}
	if opt.Kinds == nil {
		opt.Kinds = aggregates.Builtin()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.NewUID == nil {
		opt.NewUID = uuid.NewString
	}
	if opt.Lanes <= 0 {
		opt.Lanes = 64
	}
	if opt.Retries <= 0 {
		opt.Retries = 10
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	return &Service{conn: conn, store: store, opt: opt, cache: newStateCache(), policies: newPolicies()}, nil
}

// Run answers commands until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	known, err := s.loadPolicies(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	s.lanes = make([]chan *nats.Msg, s.opt.Lanes)
	for i := range s.lanes {
		s.lanes[i] = make(chan *nats.Msg, 256)
		wg.Add(1)
		go func(in chan *nats.Msg) {
			defer wg.Done()
			for m := range in {
				s.handle(ctx, m)
			}
		}(s.lanes[i])
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = s.followPolicies(ctx, known+1)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(cacheIdle / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				s.dropIdleCache(now)
			}
		}
	}()
	sub, err := s.conn.NC.QueueSubscribe(bus.AllCommands, bus.CommandQueue, s.route)
	if err != nil {
		return fmt.Errorf("service: subscribe: %w", err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := s.conn.NC.Flush(); err != nil {
		return fmt.Errorf("service: subscribe: %w", err)
	}
	<-ctx.Done()
	_ = sub.Unsubscribe()
	s.gate.Lock()
	s.stopped = true // route drops what still arrives: its sender times out, nothing was decided
	for _, l := range s.lanes {
		close(l)
	}
	s.gate.Unlock()
	wg.Wait()
	return nil
}

// route sends a command to the lane of its object, so commands on one
// object are decided in the order they arrive.
func (s *Service) route(m *nats.Msg) {
	s.last.Store(time.Now().UnixNano())
	kind, ns, name := s.objectKey(m)
	h := fnv1a(fnv1a(fnv1a(fnv1a(fnvOffset, []byte(kind)), ns), []byte{'/'}), name)
	s.gate.RLock()
	defer s.gate.RUnlock()
	if !s.stopped {
		s.lanes[h%uint32(len(s.lanes))] <- m
	}
}

// FNV-1a, 32 bits, as hash/fnv computes it, without a hash.Hash to
// allocate for every command.
const fnvOffset, fnvPrime = 2166136261, 16777619

func fnv1a(h uint32, b []byte) uint32 {
	for _, c := range b {
		h = (h ^ uint32(c)) * fnvPrime
	}
	return h
}

// objectKey is the kind (its token, however the subject names it) and the
// namespace and name of the object a command names, read as decode reads
// them, whatever else the sender says. The command's data is the
// envelope's last "data" member, or the body of a binary-mode event; the
// namespace and name are its last members of those names when they are
// strings without escapes (their bytes, in the message), else what
// decodeCommand reads of the whole data (an escape, a key in another
// case). The namespace is defaulted as scope defaults it. A malformed
// command routes anywhere and is refused there.
func (s *Service) objectKey(m *nats.Msg) (kind string, ns, name []byte) {
	kind, _, _ = bus.ParseCommandSubject(m.Subject)
	k, known := s.opt.Kinds.Lookup(kind)
	if known {
		kind = k.Token
	}
	data, ns, name, exact := commandData(m)
	if !exact {
		cmd, _ := decodeCommand(data, true)
		ns, name = []byte(cmd.Namespace), []byte(cmd.Name)
	}
	if known && k.Namespaced && len(ns) == 0 {
		ns = []byte(metav1.NamespaceDefault) // as scope defaults it
	}
	return kind, ns, name
}

// commandData finds a command's data as decode finds it (the body of a
// binary-mode event, else the structured envelope's last "data" member),
// and in the same pass the namespace and name dataKey reads there; an
// envelope with a key written otherwise (escaped, in another case) is read
// by DecodeCloudEvent, and its data left to decodeCommand (exact false).
func commandData(m *nats.Msg) (data, ns, name []byte, exact bool) {
	if bus.BinaryMode(m.Header) {
		end, ns, name, exact := dataKey(m.Data, jsonscan.Space(m.Data, 0))
		return m.Data, ns, name, exact && jsonscan.Space(m.Data, end) == len(m.Data)
	}
	b := m.Data
	end, ok := jsonscan.Members(b, jsonscan.Space(b, 0), func(key []byte, plain bool, at int) (int, bool) {
		switch {
		case plain && string(key) == "data": // the last one is the data
			var end int
			end, ns, name, exact = dataKey(b, at)
			data = b[at:max(at, end)]
			return end, end > at
		case !plain || bytes.EqualFold(key, []byte("data")):
			return 0, false
		}
		return jsonscan.Value(b, at)
	})
	if !ok || jsonscan.Space(b, end) != len(b) {
		env, _ := bus.DecodeCloudEvent(m.Data, m.Header)
		return env.Data, nil, nil, false
	}
	return data, ns, name, exact
}

// dataKey reads the command data at b[at] as far as routing needs: its
// end, and its last "namespace" and "name" members when they are strings
// without escapes and no key is written otherwise (exact).
func dataKey(b []byte, at int) (end int, ns, name []byte, exact bool) {
	if at >= len(b) || b[at] != '{' {
		end, _ = jsonscan.Value(b, at)
		return end, nil, nil, false
	}
	exact = true
	end, ok := jsonscan.Members(b, at, func(key []byte, plain bool, at int) (int, bool) {
		end, ok := jsonscan.Value(b, at)
		switch v := b[at:max(at, end)]; {
		case plain && string(key) == "namespace":
			ns, exact = unquote(v), exact && jsonscan.ASCIIString(v)
		case plain && string(key) == "name":
			name, exact = unquote(v), exact && jsonscan.ASCIIString(v)
		case !plain || bytes.EqualFold(key, []byte("namespace")) || bytes.EqualFold(key, []byte("name")):
			exact = false
		}
		return end, ok
	})
	return end, ns, name, exact && ok
}

// unquote is a plain string token's value; nothing (a member left out)
// stays nothing.
func unquote(tok []byte) []byte {
	if len(tok) < 2 {
		return nil
	}
	return tok[1 : len(tok)-1]
}

func (s *Service) handle(ctx context.Context, m *nats.Msg) {
	start := time.Now()
	kindName, verb, _ := bus.ParseCommandSubject(m.Subject)
	k, _ := s.opt.Kinds.Lookup(kindName)
	reply, env, subject, err := s.execute(ctx, m)
	if err != nil {
		reply = bus.Reply{Status: statusOf(err)}
		if !dryRun(m) { // a dry run changes nothing, a refused one included
			s.reject(ctx, kindName, verb, m.Data, env, reply.Status)
		}
	}
	took := time.Since(start)
	// The object as the command left it (unstamped), which the cache keeps
	// once the answer is out: nothing on this object is decided before
	// then (its lane is busy until this returns), and the sender need not
	// wait for it. Not the kinds other objects' commands read
	// (readElsewhere): appendDecision kept those before the answer.
	var appended aggregates.State
	if err == nil && k != nil && !dryRun(m) && reply.Event != "" && !reply.Unchanged && !readElsewhere(k) {
		appended = aggregates.State{Raw: reply.Object, Seq: reply.Seq}
	}
	if len(reply.Object) > 0 {
		if dryRun(m) || m.Header.Get(bus.WantObjectHeader) == "true" {
			reply.Object = present(k, reply.Object, reply.Seq)
		} else {
			reply.Object = nil
		}
	}
	if m.Reply != "" {
		_ = m.Respond(reply.Marshal())
	}
	if s.afterAnswer != nil {
		s.afterAnswer()
	}
	if appended.Seq > 0 {
		s.remember(subject, appended)
	}
	s.opt.Metrics.observe(kindName, verb, reply, took)
}

// execute runs one command: decode, check, decide, append.
func (s *Service) execute(ctx context.Context, m *nats.Msg) (bus.Reply, bus.Envelope, string, error) {
	cmd, env, k, err := s.decode(m)
	if err != nil {
		return bus.Reply{}, env, "", err
	}
	if err := s.checkNamespace(ctx, k, cmd); err != nil {
		return bus.Reply{}, env, "", err
	}
	subject := bus.EventSubject(k.Token, cmd.Namespace, cmd.Name)
	if dryRun(m) {
		reply, err := s.dryRun(ctx, k, subject, cmd)
		return reply, env, subject, err
	}
	if s.mayAssumeNew(k, subject, cmd) {
		reply, err := s.decideAndAppend(ctx, k, subject, aggregates.State{}, cmd, env)
		if !errors.Is(err, bus.ErrConflict) {
			return reply, env, subject, err
		}
		// The subject has events: the object exists, or existed. Read it
		// and decide again, as for any other command.
	}
	for attempt := 0; ; attempt++ {
		reply, err := s.attempt(ctx, k, subject, cmd, env)
		if errors.Is(err, bus.ErrConflict) && (cmd.ResourceVersion != "" || attempt >= s.opt.Retries) {
			s.forget(subject)
			return reply, env, subject, apierrors.NewConflict(k.GroupResource(), cmd.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
		}
		if !errors.Is(err, bus.ErrConflict) {
			return reply, env, subject, err
		}
		s.opt.Metrics.Retries.Inc()
		s.forget(subject)
	}
}

// mayAssumeNew: a create of an object the cache does not know is decided
// on its being absent, without reading the stream first (a request of its
// own, the largest part of a create's cost): the append expects an empty
// subject, so the server checks what the read would have, and a conflict
// sends the command down the usual path. Only where nothing is written
// before the append that an existing object would have refused: not with
// a quota in the namespace (charges are events), nor for a Service (its
// addresses are reserved first) or a ResourceQuota.
func (s *Service) mayAssumeNew(k *aggregates.Kind, subject string, cmd aggregates.Command) bool {
	if cmd.Verb != aggregates.VerbCreate || cmd.ResourceVersion != "" || k.Token == "service" || k.Token == "resourcequota" {
		return false
	}
	if k.Namespaced && len(s.policies.names("resourcequota", cmd.Namespace)) > 0 {
		return false
	}
	s.mu.Lock()
	_, cached := s.cache.get(subject)
	s.mu.Unlock()
	return !cached
}

func (s *Service) attempt(ctx context.Context, k *aggregates.Kind, subject string, cmd aggregates.Command, cmdEnv bus.Envelope) (bus.Reply, error) {
	state, err := s.current(ctx, k, subject, cmd)
	if err != nil {
		return bus.Reply{}, err
	}
	return s.decideAndAppend(ctx, k, subject, state, cmd, cmdEnv)
}

// decideAndAppend decides cmd on state and appends what it decided.
func (s *Service) decideAndAppend(ctx context.Context, k *aggregates.Kind, subject string, state aggregates.State, cmd aggregates.Command, cmdEnv bus.Envelope) (bus.Reply, error) {
	if k.Token == "service" {
		return s.attemptService(ctx, k, subject, state, cmd, cmdEnv)
	}
	d, err := s.decide(ctx, k, state, &cmd)
	if err != nil {
		return bus.Reply{}, err
	}
	return s.appendDecision(ctx, k, subject, state, cmd, cmdEnv, d)
}

// current is the object's state to decide cmd on: the cached one, or, when
// cmd names a later version than the cache holds (another replica of the
// service appended it), read on from the stream rather than refuse a
// current version as stale.
func (s *Service) current(ctx context.Context, k *aggregates.Kind, subject string, cmd aggregates.Command) (aggregates.State, error) {
	state, err := s.load(ctx, k, subject)
	if err != nil {
		return aggregates.State{}, err
	}
	if rv, err := strconv.ParseUint(cmd.ResourceVersion, 10, 64); cmd.ResourceVersion != "" && err == nil && rv > state.Seq {
		return s.refresh(ctx, k, subject, state)
	}
	return state, nil
}

// decide fills in the namespace's LimitRange defaults and decides cmd.
func (s *Service) decide(ctx context.Context, k *aggregates.Kind, state aggregates.State, cmd *aggregates.Command) (aggregates.Decision, error) {
	if err := s.limitRanges(ctx, k, state, cmd); err != nil {
		return aggregates.Decision{}, err
	}
	return aggregates.Decide(k, state, *cmd, aggregates.Env{Now: s.opt.Now(), NewUID: s.opt.NewUID})
}

func dryRun(m *nats.Msg) bool { return m.Header.Get(bus.DryRunHeader) == "true" }

// dryRun decides cmd as attempt does and answers with the object the
// decided event would make, at the object's present version, appending
// nothing. It charges no quota and allocates no service address (a new
// Service's would be empty).
func (s *Service) dryRun(ctx context.Context, k *aggregates.Kind, subject string, cmd aggregates.Command) (bus.Reply, error) {
	state, err := s.current(ctx, k, subject, cmd)
	if err != nil {
		return bus.Reply{}, err
	}
	d, err := s.decide(ctx, k, state, &cmd)
	if err != nil {
		return bus.Reply{}, err
	}
	if d.Event == nil {
		return unchanged(state, d), nil
	}
	next, err := aggregates.Apply(state.Raw, *d.Event)
	if err != nil {
		return bus.Reply{}, err
	}
	return bus.Reply{Seq: state.Seq, Event: d.Event.Verb, Warnings: d.Warnings, Object: next}, nil
}

// unchanged answers a decision that made no event.
func unchanged(state aggregates.State, d aggregates.Decision) bus.Reply {
	return bus.Reply{Seq: state.Seq, Unchanged: true, Warnings: d.Warnings, Object: state.Raw}
}

// appendDecision appends the decided event, if any, and answers.
func (s *Service) appendDecision(ctx context.Context, k *aggregates.Kind, subject string, state aggregates.State, cmd aggregates.Command, cmdEnv bus.Envelope, d aggregates.Decision) (bus.Reply, error) {
	if d.Event == nil {
		return unchanged(state, d), nil
	}
	next, err := aggregates.Apply(state.Raw, *d.Event)
	if err != nil {
		return bus.Reply{}, err
	}
	ev, err := s.envelope(k, cmd, cmdEnv, *d.Event)
	if err != nil {
		return bus.Reply{}, err
	}
	charges, err := s.chargeQuotas(ctx, k, cmd, d, cmdEnv)
	if err != nil {
		return bus.Reply{}, err
	}
	t0 := time.Now()
	seq, err := s.store.Append(ctx, subject, state.Seq, ev)
	s.opt.Metrics.AppendSeconds.Observe(time.Since(t0).Seconds())
	if err != nil {
		s.releaseCharges(ctx, charges, cmdEnv)
		return bus.Reply{}, err
	}
	if readElsewhere(k) {
		s.remember(subject, aggregates.State{Raw: next, Seq: seq})
	} // else handle remembers the object (next, unstamped) once it has answered
	s.policies.note(k.Token, cmd.Namespace, cmd.Name, d.Event.Verb)
	s.releaseQuotas(ctx, k, cmd, state, d, cmdEnv)
	if k.Token == "resourcequota" && d.Event.Verb == aggregates.Created {
		if err := s.initialUsage(ctx, cmd, cmdEnv); err != nil {
			return bus.Reply{}, fmt.Errorf("service: usage of new quota %s/%s: %w", cmd.Namespace, cmd.Name, err)
		}
	}
	return bus.Reply{Seq: seq, Event: d.Event.Verb, Warnings: d.Warnings, Object: next}, nil
}

// readElsewhere: the kinds whose state commands on other objects read
// from the cache, in other lanes: a namespace (checkNamespace), a
// LimitRange (limitRanges), a ResourceQuota (charges, and a new quota's
// usage in the same command), a Service (its reservations). The cache
// takes a new state of one before the answer goes out, so that a command
// sent as soon as the answer is in is decided on it.
func readElsewhere(k *aggregates.Kind) bool {
	switch k.Token {
	case "namespace", "limitrange", "resourcequota", "service":
		return true
	}
	return false
}

// stamp keeps the object's resourceVersion in step with its sequence.
func stamp(raw []byte, seq uint64) []byte {
	if raw == nil {
		return nil
	}
	out, err := aggregates.WithResourceVersion(raw, seq)
	if err != nil {
		return raw
	}
	return out
}

// envelope wraps an event as the CloudEvent that is appended: its source
// and actor are the command's, it is caused by the command and carries its
// reason. Secret data is sealed here, before it reaches the stream.
func (s *Service) envelope(k *aggregates.Kind, cmd aggregates.Command, cmdEnv bus.Envelope, e aggregates.Event) (bus.Envelope, error) {
	data := []byte(e.Data)
	if k.Sealed && s.opt.Sealer != nil {
		var err error
		if data, err = s.opt.Sealer.SealEvent(e.Verb, data); err != nil {
			return bus.Envelope{}, err
		}
	}
	corr := cmdEnv.CorrelationID
	if corr == "" {
		corr = cmdEnv.ID
	}
	return bus.Envelope{
		ID:     uuid.NewString(),
		Source: cmdEnv.Source, Type: bus.EventType(k.Token, e.Verb),
		Subject: k.Token + "/" + cmd.Namespace + "/" + cmd.Name, Time: s.opt.Now().UTC(),
		Actor: cmdEnv.Actor, CausationID: cmdEnv.ID, CorrelationID: corr, Reason: cmdEnv.Reason,
		Data: data,
	}, nil
}

// present is the object a reply carries as the reply shows it: stamped
// with its resourceVersion, the reply's sequence (0: a dry run's new
// object, with no version yet); Secret data never leaves. Replies carry
// the object unstamped until then, so an answer that leaves it out
// (without bus.WantObjectHeader) costs nothing for it.
func present(k *aggregates.Kind, raw json.RawMessage, seq uint64) json.RawMessage {
	if seq > 0 {
		raw = stamp(raw, seq)
	}
	if k == nil || k.Sealed {
		return seal.Redact(raw)
	}
	return raw
}
