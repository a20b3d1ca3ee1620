package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// AllocConfig configures how Service commands get cluster IPs, node ports
// and load-balancer addresses (aggregates/allocation.go has the rules).
type AllocConfig struct {
	// ServiceCIDR is where cluster IPs come from; 10.96.0.0/12 when unset.
	// Dynamic allocation skips the lower static band (the first 256
	// addresses at most, upstream's rule), so 10.96.0.1 (kubernetes) and
	// 10.96.0.10 (cluster DNS) stay free for services that ask for them.
	ServiceCIDR netip.Prefix
	// NodePortMin and NodePortMax bound node ports; 30000–32767 when zero.
	NodePortMin, NodePortMax int32
	// LoadBalancerPool holds the addresses LoadBalancer services get. Empty:
	// they stay pending (EXTERNAL-IP <pending>), as without a cloud.
	LoadBalancerPool []netip.Prefix
	// Grace is how old a stale reservation must be before it is taken
	// over; one minute when zero.
	Grace time.Duration
	// Rand picks a random number in [0, n); math/rand/v2 when nil.
	Rand func(n uint64) uint64
}

func (c AllocConfig) withDefaults() AllocConfig {
	if !c.ServiceCIDR.IsValid() {
		c.ServiceCIDR = netip.MustParsePrefix("10.96.0.0/12")
	}
	c.ServiceCIDR = c.ServiceCIDR.Masked()
	if c.NodePortMin == 0 {
		c.NodePortMin, c.NodePortMax = aggregates.NodePortMin, aggregates.NodePortMax
	}
	if c.Grace == 0 {
		c.Grace = time.Minute
	}
	if c.Rand == nil {
		c.Rand = rand.Uint64N
	}
	return c
}

// resource is one reservation subject: a kind token and a name.
type resource struct{ token, name string }

func (r resource) subject() string { return bus.EventSubject(r.token, "", r.name) }

func (r resource) kind() *aggregates.Kind {
	return &aggregates.Kind{Name: r.token, Token: r.token}
}

// allocation is what one Service command reserved and must release.
type allocation struct {
	clusterIP string
	nodePorts map[int]int32 // by port index: newly allocated
	lbIPs     []string      // newly allocated; nil: keep the old ones
	lbChanged bool
	reserved  []resource // made by this command: undone if it fails
	release   []resource // held before, not needed after: freed once it lands
}

func (a *allocation) fills() bool { return a.clusterIP != "" || len(a.nodePorts) > 0 }

// attemptService decides a Service command with its allocations. Reads
// (and other verbs) go straight through; create, apply, update and patch
// are decided once to validate, then what the result needs is reserved,
// filled in and decided again; delete frees what the service held.
func (s *Service) attemptService(ctx context.Context, k *aggregates.Kind, subject string, state aggregates.State, cmd aggregates.Command, cmdEnv bus.Envelope) (bus.Reply, error) {
	uid := s.opt.NewUID()
	env := aggregates.Env{Now: s.opt.Now(), NewUID: func() string { return uid }}
	switch cmd.Verb {
	case aggregates.VerbDelete:
		return s.deleteService(ctx, k, subject, state, cmd, cmdEnv, env)
	case aggregates.VerbCreate, aggregates.VerbApply, aggregates.VerbUpdate, aggregates.VerbPatch:
	default:
		d, err := aggregates.Decide(k, state, cmd, env)
		if err != nil {
			return bus.Reply{}, err
		}
		return s.appendDecision(ctx, k, subject, state, cmd, cmdEnv, d)
	}
	old, err := storedService(state.Raw)
	if err != nil {
		return bus.Reply{}, err
	}
	cmd, err = asObjectCommand(state, cmd, old)
	if err != nil {
		return bus.Reply{}, err
	}
	d, err := aggregates.Decide(k, state, cmd, env)
	if err != nil || d.Event == nil {
		if err != nil {
			return bus.Reply{}, err
		}
		return s.appendDecision(ctx, k, subject, state, cmd, cmdEnv, d)
	}
	nextRaw, err := aggregates.Apply(state.Raw, *d.Event)
	if err != nil {
		return bus.Reply{}, err
	}
	next, err := storedService(nextRaw)
	if err != nil {
		return bus.Reply{}, err
	}
	a, err := s.allocate(ctx, old, next, cmdEnv)
	if err != nil {
		return bus.Reply{}, err
	}
	reply, err := s.decideAllocated(ctx, k, subject, state, cmd, cmdEnv, d, a)
	if err != nil {
		s.releaseAll(ctx, a.reserved, ownerOf(next), cmdEnv)
		return bus.Reply{}, err
	}
	s.releaseAll(ctx, a.release, ownerOf(next), cmdEnv)
	return reply, nil
}

// decideAllocated adds the allocation to the decided event (the cluster
// IP and node ports into the object, the load-balancer address into its
// status) and appends it. The manifest itself is left as sent, so what
// apply records as last applied is the user's, not the allocator's.
func (s *Service) decideAllocated(ctx context.Context, k *aggregates.Kind, subject string, state aggregates.State, cmd aggregates.Command, cmdEnv bus.Envelope, d aggregates.Decision, a *allocation) (bus.Reply, error) {
	if a.fills() {
		e, err := fillEvent(state.Raw, *d.Event, a.clusterIP, a.nodePorts)
		if err != nil {
			return bus.Reply{}, err
		}
		d.Event = &e
	}
	if a.lbChanged {
		e, err := aggregates.WithLoadBalancer(*d.Event, a.lbIPs)
		if err != nil {
			return bus.Reply{}, err
		}
		d.Event = &e
	}
	return s.appendDecision(ctx, k, subject, state, cmd, cmdEnv, d)
}

// fillEvent sets the allocated fields in a created object, or in the
// merge patch of an update.
func fillEvent(old []byte, e aggregates.Event, clusterIP string, nodePorts map[int]int32) (aggregates.Event, error) {
	if e.Verb == aggregates.Created {
		data, err := fillSpec(e.Data, clusterIP, nodePorts)
		return aggregates.Event{Verb: e.Verb, Data: data}, err
	}
	if e.Verb != aggregates.Updated {
		return e, nil
	}
	next, err := aggregates.Apply(old, e)
	if err != nil {
		return e, err
	}
	filled, err := fillSpec(next, clusterIP, nodePorts)
	if err != nil {
		return e, err
	}
	patch, err := jsonpatch.CreateMergePatch(old, filled)
	if err != nil {
		return e, fmt.Errorf("service: allocation patch: %w", err)
	}
	data, err := json.Marshal(aggregates.UpdatedData{Patch: patch})
	return aggregates.Event{Verb: aggregates.Updated, Data: data}, err
}

// deleteService deletes and then frees every reservation the service held.
func (s *Service) deleteService(ctx context.Context, k *aggregates.Kind, subject string, state aggregates.State, cmd aggregates.Command, cmdEnv bus.Envelope, env aggregates.Env) (bus.Reply, error) {
	d, err := aggregates.Decide(k, state, cmd, env)
	if err != nil {
		return bus.Reply{}, err
	}
	reply, err := s.appendDecision(ctx, k, subject, state, cmd, cmdEnv, d)
	if err != nil || reply.Event != aggregates.Deleted {
		return reply, err
	}
	if old, err := storedService(state.Raw); err == nil && old != nil {
		s.releaseAll(ctx, resources(aggregates.ServiceClaims(old)), ownerOf(old), cmdEnv)
	}
	return reply, nil
}

// asObjectCommand turns a patch into the update it stands for (as Decide
// does) and fills in what the service already holds: an update that omits
// the cluster IP or a port's node port keeps it. (Apply needs no help: its
// three-way merge keeps fields the user never set.)
func asObjectCommand(state aggregates.State, cmd aggregates.Command, old *corev1.Service) (aggregates.Command, error) {
	if cmd.Verb == aggregates.VerbPatch && state.Exists() && len(cmd.Patch) > 0 {
		patched, err := jsonpatch.MergePatch(state.Raw, cmd.Patch)
		if err != nil {
			return cmd, apierrors.NewBadRequest(fmt.Sprintf("Service %q: patch: %v", cmd.Name, err))
		}
		cmd.Verb, cmd.Object, cmd.Patch = aggregates.VerbUpdate, patched, nil
	}
	if old == nil || len(cmd.Object) == 0 || cmd.Verb == aggregates.VerbApply {
		return cmd, nil // apply merges three ways: fields the user never set stay as they are
	}
	var m corev1.Service
	if json.Unmarshal(cmd.Object, &m) != nil {
		return cmd, nil // Decide names what is wrong with it
	}
	keep := map[int]int32{}
	if isNodePortType(m.Spec.Type) && isNodePortType(old.Spec.Type) {
		for i, p := range m.Spec.Ports {
			if p.NodePort == 0 {
				if np := heldNodePort(old, p); np != 0 {
					keep[i] = np
				}
			}
		}
	}
	ip := ""
	if m.Spec.ClusterIP == "" && old.Spec.ClusterIP != "" && old.Spec.ClusterIP != corev1.ClusterIPNone && m.Spec.Type != corev1.ServiceTypeExternalName {
		ip = old.Spec.ClusterIP
	}
	if ip == "" && len(keep) == 0 {
		return cmd, nil
	}
	obj, err := fillSpec(cmd.Object, ip, keep)
	cmd.Object = obj
	return cmd, err
}

// heldNodePort is the node port old gave the port matching p (by name,
// else by number and protocol).
func heldNodePort(old *corev1.Service, p corev1.ServicePort) int32 {
	for _, o := range old.Spec.Ports {
		if p.Name != "" && o.Name == p.Name || p.Name == "" && o.Port == p.Port && protocol(o) == protocol(p) {
			return o.NodePort
		}
	}
	return 0
}

func protocol(p corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

func isNodePortType(t corev1.ServiceType) bool {
	return t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer
}

// fillSpec sets spec.clusterIP (and clusterIPs) and ports' node ports in a
// manifest, leaving every other field as the sender wrote it.
func fillSpec(raw []byte, clusterIP string, nodePorts map[int]int32) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("service manifest: %v", err))
	}
	spec, _ := obj["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		obj["spec"] = spec
	}
	if clusterIP != "" {
		spec["clusterIP"], spec["clusterIPs"] = clusterIP, []string{clusterIP}
	}
	ports, _ := spec["ports"].([]any)
	for i, np := range nodePorts {
		if i < len(ports) {
			if p, ok := ports[i].(map[string]any); ok {
				p["nodePort"] = np
			}
		}
	}
	return json.Marshal(obj)
}

func storedService(raw []byte) (*corev1.Service, error) {
	if raw == nil {
		return nil, nil
	}
	var svc corev1.Service
	if err := json.Unmarshal(raw, &svc); err != nil {
		return nil, fmt.Errorf("service: stored service: %w", err)
	}
	return &svc, nil
}

func ownerOf(svc *corev1.Service) aggregates.Owner {
	return aggregates.Owner{Namespace: svc.Namespace, Name: svc.Name, UID: string(svc.UID)}
}

func resources(c aggregates.Claims) []resource {
	var out []resource
	for _, r := range c.Resources() {
		out = append(out, resource{token: r[0], name: r[1]})
	}
	return out
}

// invalidService is the refusal of a service field, as upstream words it.
func invalidService(name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, name, errs)
}

// errRangeFull: no free resource is left in a range.
var errRangeFull = errors.New("range is full")
