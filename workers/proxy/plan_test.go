package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"
)

func testPlanner() *planner {
	return &planner{base: newBase("gantry", 4, netip.Prefix{}), node: "node-a"}
}

// chainNames lists a plan's chains by prefix ("svc", "ext", "ep").
func chainNames(p *plan) []string {
	var out []string
	for r := range p.chains {
		out = append(out, strings.SplitN(r.name, "-", 2)[0])
	}
	sort.Strings(out)
	return out
}

// chainOf finds a chain of the plan by name, whatever its table.
func chainOf(p *plan, name string) *chainPlan {
	for r, c := range p.chains {
		if r.name == name {
			return c
		}
	}
	return &chainPlan{}
}

func elemSets(p *plan) []string {
	var out []string
	for k, target := range p.elems {
		out = append(out, k.set+"→"+strings.SplitN(target, "-", 2)[0])
	}
	sort.Strings(out)
	return out
}

func TestBuildPlan(t *testing.T) {
	base := webPort(3)
	tests := []struct {
		name   string
		mutate func(*ServicePort)
		pl     func(*planner)
		chains string
		elems  string
		check  func(t *testing.T, sp *ServicePort, p *plan)
	}{
		{name: "cluster IP and node port", chains: "[ep ep ep ext svc]",
			elems: "[service-ips→svc service-nodeports→ext]"},
		{name: "no ready endpoints rejects everywhere",
			mutate: func(sp *ServicePort) {
				for i := range sp.Endpoints {
					sp.Endpoints[i].Ready = false
				}
				sp.LoadBalancerIPs = []netip.Addr{netip.MustParseAddr("192.0.2.10")}
			},
			chains: "[]", elems: "[no-endpoint-nodeports→reject no-endpoint-services→reject no-endpoint-services→reject]"},
		{name: "not-ready endpoint left out", mutate: func(sp *ServicePort) { sp.Endpoints[2].Ready = false },
			chains: "[ep ep ext svc]", elems: "[service-ips→svc service-nodeports→ext]",
			check: func(t *testing.T, sp *ServicePort, p *plan) {
				if n := len(chainOf(p, svcChainName(sp)).numgen); n != 2 {
					t.Errorf("numgen over %d, want 2", n)
				}
			}},
		{name: "cluster IP only", mutate: func(sp *ServicePort) { sp.NodePort = 0 },
			chains: "[ep ep ep svc]", elems: "[service-ips→svc]"},
		{name: "load balancer IP goes to ext chain",
			mutate: func(sp *ServicePort) {
				sp.NodePort, sp.LoadBalancerIPs = 0, []netip.Addr{netip.MustParseAddr("192.0.2.10")}
			},
			chains: "[ep ep ep ext svc]", elems: "[service-ips→ext service-ips→svc]"},
		{name: "local policy uses local endpoints only",
			mutate: func(sp *ServicePort) { sp.ExternalLocal, sp.Endpoints[0].Node = true, "node-b" },
			chains: "[ep ep ep ext svc]", elems: "[service-ips→svc service-nodeports→ext]",
			check: func(t *testing.T, sp *ServicePort, p *plan) {
				if n := len(chainOf(p, extChainName(sp)).numgen); n != 2 {
					t.Errorf("ext numgen over %d, want the 2 local", n)
				}
			}},
		{name: "local policy without local endpoints drops",
			mutate: func(sp *ServicePort) {
				sp.ExternalLocal = true
				for i := range sp.Endpoints {
					sp.Endpoints[i].Node = "node-b"
				}
			},
			chains: "[ep ep ep ext svc]", elems: "[service-ips→svc service-nodeports→ext]",
			check: func(t *testing.T, sp *ServicePort, p *plan) {
				ext := chainOf(p, extChainName(sp))
				if len(ext.numgen) != 0 || len(ext.rules) != 1 {
					t.Errorf("ext chain %+v, want a single drop", ext)
				}
			}},
		{name: "session affinity adds a set per endpoint",
			mutate: func(sp *ServicePort) { sp.AffinityTimeout = 30 * time.Second },
			chains: "[ep ep ep ext svc]", elems: "[service-ips→svc service-nodeports→ext]",
			check: func(t *testing.T, sp *ServicePort, p *plan) {
				if len(p.sets) != 3 {
					t.Errorf("%d affinity sets, want 3", len(p.sets))
				}
				if n := len(chainOf(p, svcChainName(sp)).rules); n != 3 {
					t.Errorf("svc chain has %d affinity rules, want 3", n)
				}
			}},
		{name: "cluster CIDR masquerades outsiders",
			pl:     func(pl *planner) { pl.clusterCIDR = netip.MustParsePrefix("10.244.0.0/16") },
			chains: "[ep ep ep ext svc]", elems: "[service-ips→svc service-nodeports→ext]",
			check: func(t *testing.T, sp *ServicePort, p *plan) {
				if n := len(chainOf(p, svcChainName(sp)).rules); n != 1 {
					t.Errorf("svc chain has %d rules, want the masquerade rule", n)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := base
			sp.Endpoints = append([]Endpoint(nil), base.Endpoints...)
			if tt.mutate != nil {
				tt.mutate(&sp)
			}
			pl := testPlanner()
			if tt.pl != nil {
				tt.pl(pl)
			}
			p := pl.build(&sp)
			if got := fmt.Sprint(chainNames(p)); got != tt.chains {
				t.Errorf("chains %s, want %s", got, tt.chains)
			}
			if got := fmt.Sprint(elemSets(p)); got != tt.elems {
				t.Errorf("elements %s, want %s", got, tt.elems)
			}
			if tt.check != nil {
				tt.check(t, &sp, p)
			}
		})
	}
}

// TestDiffTouchesOnlyTheChange: one endpoint removed rewrites the service
// chain and deletes one endpoint chain; nothing else.
func TestDiffTouchesOnlyTheChange(t *testing.T) {
	pl := testPlanner()
	before := webPort(3)
	after := webPort(3)
	after.Endpoints = after.Endpoints[:2]
	tx := newTxn(pl.base)
	tx.diff(pl.build(&before), pl.build(&after))
	sh := pl.base.shardFor("default", "web").table.Name
	if len(tx.chainWrite) != 1 || tx.chainWrite[ref{sh, svcChainName(&after)}] == nil {
		t.Errorf("chains written %v, want only the service chain", sortedRefs(tx.chainWrite))
	}
	if len(tx.chainDel) != 1 || tx.chainDel[0] != (ref{sh, epChainName(&before, before.Endpoints[2])}) {
		t.Errorf("chains deleted %v", tx.chainDel)
	}
	if len(tx.elemAdd)+len(tx.elemDel)+len(tx.setAdd)+len(tx.setDel) != 0 {
		t.Errorf("unexpected element/set changes: %+v", tx)
	}
	same := newTxn(pl.base)
	same.diff(pl.build(&after), pl.build(&after))
	if !same.empty() {
		t.Errorf("identical plans produce changes: %+v", same)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ServicePort)
	}{
		{"sctp", func(sp *ServicePort) { sp.Protocol = 132 }},
		{"ipv6 cluster IP", func(sp *ServicePort) { sp.ClusterIP = netip.MustParseAddr("fd00::1") }},
		{"port 0", func(sp *ServicePort) { sp.Port = 0 }},
		{"endpoint port 0", func(sp *ServicePort) { sp.Endpoints[0].Port = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := webPort(1)
			tt.mutate(&sp)
			if err := sp.validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("err %v, want ErrInvalid", err)
			}
		})
	}
	ok := webPort(2)
	if err := ok.validate(); err != nil {
		t.Errorf("valid port: %v", err)
	}
}

func TestNames(t *testing.T) {
	long := webPort(1)
	long.Name = strings.Repeat("x", 300)
	tests := []struct {
		name string
		got  string
	}{
		{"service chain", svcChainName(&long)},
		{"endpoint chain", epChainName(&long, long.Endpoints[0])},
		{"affinity set", affinitySetName(&long, long.Endpoints[0])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.got) > maxNameLen {
				t.Errorf("%d chars > %d", len(tt.got), maxNameLen)
			}
		})
	}
	if !isShardName("gantry", "gantry-07") || isShardName("gantry", "gantry-x") || isShardName("gantry", "gantry") {
		t.Error("shard table names")
	}
	a, b := webPort(1), webPort(1)
	b.Name = "web2"
	if svcChainName(&a) == svcChainName(&b) || !ownedChain(svcChainName(&a)) || ownedChain(chainServices) {
		t.Error("names must differ per service and be recognisable")
	}
}
