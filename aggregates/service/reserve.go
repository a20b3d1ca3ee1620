package service

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// allocate reserves what next needs and old did not hold: a requested
// cluster IP or node port (refused if another service holds it), or a
// free one when none was requested, and a load-balancer address. It lists
// what old held and next lets go of. On error nothing stays reserved.
func (s *Service) allocate(ctx context.Context, old, next *corev1.Service, cmdEnv bus.Envelope) (*allocation, error) {
	cfg := s.opt.Alloc.withDefaults()
	a := &allocation{nodePorts: map[int]int32{}}
	o := ownerOf(next)
	if err := s.precheck(ctx, cfg, old, next, o); err != nil {
		return nil, err
	}
	err := s.allocateClusterIP(ctx, cfg, a, old, next, o, cmdEnv)
	if err == nil {
		err = s.allocateNodePorts(ctx, cfg, a, old, next, o, cmdEnv)
	}
	if err == nil {
		err = s.allocateLoadBalancer(ctx, cfg, a, old, next, o, cmdEnv)
	}
	if err != nil {
		s.releaseAll(ctx, a.reserved, o, cmdEnv)
		return nil, err
	}
	a.release = letGo(old, next, a)
	return a, nil
}

// precheck refuses, before anything is appended, a requested cluster IP
// or node port that another service holds, so a refused command leaves
// the stream as it was. (Racing commands are still settled by reserve.)
func (s *Service) precheck(ctx context.Context, cfg AllocConfig, old, next *corev1.Service, o aggregates.Owner) error {
	type want struct {
		r     resource
		path  *field.Path
		value any
		msg   string
	}
	var wants []want
	oldClaims := aggregates.ServiceClaims(old)
	if ip := next.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone && next.Spec.Type != corev1.ServiceTypeExternalName {
		if a, err := netip.ParseAddr(ip); err == nil && !oldClaims.Holds(aggregates.IPAddressToken, a.String()) {
			wants = append(wants, want{resource{aggregates.IPAddressToken, a.String()}, field.NewPath("spec", "clusterIP"), ip, "provided IP is already allocated"})
		}
	}
	if isNodePortType(next.Spec.Type) {
		for i, p := range next.Spec.Ports {
			name := strconv.Itoa(int(p.NodePort))
			if p.NodePort != 0 && !oldClaims.Holds(aggregates.NodePortToken, name) {
				wants = append(wants, want{resource{aggregates.NodePortToken, name}, field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, "provided port is already allocated"})
			}
		}
	}
	for _, w := range wants {
		held, err := s.load(ctx, w.r.kind(), w.r.subject())
		if err != nil {
			return err
		}
		holder, err := s.holderOf(ctx, held)
		if err != nil {
			return err
		}
		if _, err := aggregates.DecideReserve(w.r.token, w.r.name, held, o, holder, s.opt.Now(), cfg.Grace); err != nil {
			return refusal(next.Name, w.path, w.value, w.msg, err)
		}
	}
	return nil
}

func (s *Service) allocateClusterIP(ctx context.Context, cfg AllocConfig, a *allocation, old, next *corev1.Service, o aggregates.Owner, cmdEnv bus.Envelope) error {
	ip := next.Spec.ClusterIP
	if next.Spec.Type == corev1.ServiceTypeExternalName || ip == corev1.ClusterIPNone {
		return nil
	}
	path := field.NewPath("spec", "clusterIP")
	if ip == "" {
		r, err := s.reserveFree(ctx, aggregates.IPAddressToken, ipRange(cfg.ServiceCIDR, true), cfg, o, cmdEnv)
		if err != nil {
			return invalidService(next.Name, field.ErrorList{field.InternalError(path, fmt.Errorf("failed to allocate a serviceIP: %w", err))})
		}
		a.clusterIP, a.reserved = r.name, append(a.reserved, r)
		return nil
	}
	if old != nil && old.Spec.ClusterIP == ip {
		return nil
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || !cfg.ServiceCIDR.Contains(addr) {
		return invalidService(next.Name, field.ErrorList{field.Invalid(path, ip,
			fmt.Sprintf("provided IP is not in the valid range. The range of valid IPs is %s", cfg.ServiceCIDR))})
	}
	r := resource{aggregates.IPAddressToken, addr.String()}
	if err := s.reserve(ctx, r, cfg, o, cmdEnv); err != nil {
		return refusal(next.Name, path, ip, "provided IP is already allocated", err)
	}
	a.reserved = append(a.reserved, r)
	return nil
}

func (s *Service) allocateNodePorts(ctx context.Context, cfg AllocConfig, a *allocation, old, next *corev1.Service, o aggregates.Owner, cmdEnv bus.Envelope) error {
	if !isNodePortType(next.Spec.Type) {
		return nil
	}
	held := map[int32]bool{}
	for _, p := range aggregates.ServiceClaims(old).NodePorts {
		held[p] = true
	}
	ports := portRange(cfg)
	for i, p := range next.Spec.Ports {
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if p.NodePort == 0 {
			r, err := s.reserveFree(ctx, aggregates.NodePortToken, ports, cfg, o, cmdEnv)
			if err != nil {
				return invalidService(next.Name, field.ErrorList{field.InternalError(path, fmt.Errorf("failed to allocate a nodePort: %w", err))})
			}
			np, _ := strconv.Atoi(r.name)
			a.nodePorts[i], a.reserved = int32(np), append(a.reserved, r)
			held[int32(np)] = true
			continue
		}
		if held[p.NodePort] {
			continue
		}
		if p.NodePort < cfg.NodePortMin || p.NodePort > cfg.NodePortMax {
			return invalidService(next.Name, field.ErrorList{field.Invalid(path, p.NodePort,
				fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", cfg.NodePortMin, cfg.NodePortMax))})
		}
		r := resource{aggregates.NodePortToken, strconv.Itoa(int(p.NodePort))}
		if err := s.reserve(ctx, r, cfg, o, cmdEnv); err != nil {
			return refusal(next.Name, path, p.NodePort, "provided port is already allocated", err)
		}
		a.reserved, held[p.NodePort] = append(a.reserved, r), true
	}
	return nil
}

// allocateLoadBalancer gives a LoadBalancer service an address from the
// pool, once; a service leaving the type lets go of it.
func (s *Service) allocateLoadBalancer(ctx context.Context, cfg AllocConfig, a *allocation, old, next *corev1.Service, o aggregates.Owner, cmdEnv bus.Envelope) error {
	had := aggregates.ServiceClaims(old).LoadBalancerIPs
	if next.Spec.Type != corev1.ServiceTypeLoadBalancer {
		a.lbChanged = len(had) > 0
		return nil
	}
	if len(had) > 0 || len(cfg.LoadBalancerPool) == 0 {
		return nil
	}
	r, err := s.reserveFree(ctx, aggregates.IPAddressToken, poolRange(cfg.LoadBalancerPool), cfg, o, cmdEnv)
	if errors.Is(err, errRangeFull) {
		return nil // stays pending, as upstream does without addresses
	}
	if err != nil {
		return err
	}
	a.lbIPs, a.lbChanged, a.reserved = []string{r.name}, true, append(a.reserved, r)
	return nil
}

// letGo lists what old held that next (with a's allocations) does not.
func letGo(old, next *corev1.Service, a *allocation) []resource {
	if old == nil {
		return nil
	}
	keep := aggregates.ServiceClaims(next)
	if a.lbChanged {
		keep.LoadBalancerIPs = a.lbIPs
	}
	var out []resource
	for _, r := range resources(aggregates.ServiceClaims(old)) {
		if !keep.Holds(r.token, r.name) {
			out = append(out, r)
		}
	}
	return out
}

func refusal(name string, path *field.Path, value any, msg string, err error) error {
	if errors.Is(err, aggregates.ErrAllocated) {
		return invalidService(name, field.ErrorList{field.Invalid(path, value, msg)})
	}
	return err
}

// reserve takes resource r for o, or fails with aggregates.ErrAllocated.
// Two commands racing for r both append with the subject's last sequence
// as the expected one: one lands, the other conflicts, reloads and sees
// the winner.
func (s *Service) reserve(ctx context.Context, r resource, cfg AllocConfig, o aggregates.Owner, cmdEnv bus.Envelope) error {
	for attempt := 0; attempt < 3; attempt++ {
		held, err := s.load(ctx, r.kind(), r.subject())
		if err != nil {
			return err
		}
		holder, err := s.holderOf(ctx, held)
		if err != nil {
			return err
		}
		e, err := aggregates.DecideReserve(r.token, r.name, held, o, holder, s.opt.Now(), cfg.Grace)
		if err != nil || e == nil {
			return err
		}
		err = s.appendReservation(ctx, r, held.Seq, *e, cmdEnv)
		if !errors.Is(err, bus.ErrConflict) {
			return err
		}
		s.forget(r.subject())
	}
	return fmt.Errorf("service: reserve %s %s: %w", r.token, r.name, bus.ErrConflict)
}

// holderOf is the current state of the service a reservation names,
// read fresh (a stale cache must not make a live owner look gone).
func (s *Service) holderOf(ctx context.Context, held aggregates.State) (aggregates.State, error) {
	if !held.Exists() {
		return aggregates.State{}, nil
	}
	res, err := aggregates.ParseReservation(held.Raw)
	if err != nil {
		return aggregates.State{}, err
	}
	k, _ := s.opt.Kinds.Lookup("service")
	subject := bus.EventSubject(k.Token, res.Owner.Namespace, res.Owner.Name)
	s.forget(subject)
	return s.load(ctx, k, subject)
}

// reserveFree takes a free resource from rng: random probes first, then a
// bounded scan from a random start. Only free ones are taken; stale ones
// are left for a command that asks for them by name.
func (s *Service) reserveFree(ctx context.Context, token string, rng candidates, cfg AllocConfig, o aggregates.Owner, cmdEnv bus.Envelope) (resource, error) {
	if rng.n == 0 {
		return resource{}, errRangeFull
	}
	try := func(i uint64) (resource, bool, error) {
		r := resource{token, rng.at(i)}
		held, err := s.load(ctx, r.kind(), r.subject())
		if err != nil || held.Exists() {
			return r, false, err
		}
		e := aggregates.NewReservation(token, r.name, o, s.opt.Now())
		err = s.appendReservation(ctx, r, held.Seq, e, cmdEnv)
		if errors.Is(err, bus.ErrConflict) {
			s.forget(r.subject())
			return r, false, nil
		}
		return r, err == nil, err
	}
	for range min(rng.n, 32) {
		if r, ok, err := try(cfg.Rand(rng.n)); ok || err != nil {
			return r, err
		}
	}
	start := cfg.Rand(rng.n)
	for j := range min(rng.n, 1<<16) {
		if r, ok, err := try((start + j) % rng.n); ok || err != nil {
			return r, err
		}
	}
	return resource{}, errRangeFull
}

func (s *Service) appendReservation(ctx context.Context, r resource, expected uint64, e aggregates.Event, cmdEnv bus.Envelope) error {
	k := r.kind()
	ev, err := s.envelope(k, aggregates.Command{Name: r.name}, cmdEnv, e)
	if err != nil {
		return err
	}
	seq, err := s.store.Append(ctx, r.subject(), expected, ev)
	if err != nil {
		return err
	}
	held := aggregates.State{Seq: seq}
	if e.Verb != aggregates.Deleted {
		held.Raw = stamp(e.Data, seq)
	}
	s.remember(r.subject(), held)
	return nil
}

// releaseAll frees each resource still held by o; failures are left to
// the stale-reservation rule.
func (s *Service) releaseAll(ctx context.Context, rs []resource, o aggregates.Owner, cmdEnv bus.Envelope) {
	for _, r := range rs {
		for attempt := 0; attempt < 3; attempt++ {
			held, err := s.load(ctx, r.kind(), r.subject())
			if err != nil || !held.Exists() {
				break
			}
			res, err := aggregates.ParseReservation(held.Raw)
			if err != nil || res.Owner.UID != o.UID || res.Owner.Name != o.Name || res.Owner.Namespace != o.Namespace {
				break
			}
			err = s.appendReservation(ctx, r, held.Seq, aggregates.ReleaseReservation(), cmdEnv)
			if !errors.Is(err, bus.ErrConflict) {
				break
			}
			s.forget(r.subject())
		}
	}
}

// candidates is a range of n resources named by at(i).
type candidates struct {
	n  uint64
	at func(uint64) string
}

// ipRange is the usable addresses of a service CIDR (not the network or
// broadcast address); dynamic skips the static band at its start.
func ipRange(p netip.Prefix, dynamic bool) candidates {
	bits := p.Addr().BitLen() - p.Bits()
	if bits > 62 {
		bits = 62
	}
	size := uint64(1) << bits
	if size < 4 {
		return candidates{}
	}
	first, n := uint64(1), size-2
	if dynamic {
		static := min(max(16, size/16), 256)
		if n > static*2 {
			first, n = static, size-1-static
		}
	}
	base := p.Masked().Addr()
	return candidates{n: n, at: func(i uint64) string { return addAddr(base, first+i).String() }}
}

// poolRange is every address of the pool prefixes, in order.
func poolRange(pool []netip.Prefix) candidates {
	var sizes []uint64
	var n uint64
	for _, p := range pool {
		size := uint64(1) << min(p.Addr().BitLen()-p.Bits(), 32)
		sizes, n = append(sizes, size), n+size
	}
	return candidates{n: n, at: func(i uint64) string {
		for j, p := range pool {
			if i < sizes[j] {
				return addAddr(p.Masked().Addr(), i).String()
			}
			i -= sizes[j]
		}
		return ""
	}}
}

func portRange(cfg AllocConfig) candidates {
	return candidates{n: uint64(cfg.NodePortMax - cfg.NodePortMin + 1), at: func(i uint64) string {
		return strconv.Itoa(int(cfg.NodePortMin) + int(i))
	}}
}

func addAddr(a netip.Addr, off uint64) netip.Addr {
	v := new(big.Int).SetBytes(a.AsSlice())
	v.Add(v, new(big.Int).SetUint64(off))
	b := v.FillBytes(make([]byte, len(a.AsSlice())))
	out, _ := netip.AddrFromSlice(b)
	return out
}
