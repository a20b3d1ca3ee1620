package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestHairpinAffinityAndLocalPolicy(t *testing.T) {
	tp := newTopo(t, 3)
	for i := range 3 {
		tp.startHTTPD(i)
	}
	p := newProxier(t, tp)
	web := webPort(3)
	sticky := webPort(3)
	sticky.Name, sticky.ClusterIP, sticky.NodePort = "sticky", netip.MustParseAddr("10.96.0.11"), 0
	sticky.AffinityTimeout = 30 * time.Second
	local := webPort(3)
	local.Name, local.ClusterIP, local.NodePort, local.ExternalLocal = "local", netip.MustParseAddr("10.96.0.12"), 30082, true
	local.Endpoints[1].Node, local.Endpoints[2].Node = "node-b", "node-b"
	if err := p.Sync([]ServicePort{web, sticky, local}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, addr string
		check            func(map[string]int) bool
	}{
		{"hairpin: a backend reaches its own service, itself included", tp.backends[0], vip.String() + ":80",
			func(c map[string]int) bool { return c["error"] == 0 && c["b0"] > 0 && c["b1"] > 0 }},
		{"client IP affinity sticks to one backend", tp.client, "10.96.0.11:80",
			func(c map[string]int) bool { return len(c) == 1 && c["error"] == 0 }},
		{"Local policy node port uses the local endpoint only", tp.client, nodeIP + ":30082",
			func(c map[string]int) bool { return c["b0"] == 30 }},
		{"Local policy cluster IP still uses all", tp.client, "10.96.0.12:80",
			func(c map[string]int) bool { return c["b1"] > 0 && c["b2"] > 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := tp.spread(tt.from, tt.addr, 30); !tt.check(c) {
				t.Errorf("%s: %v", tt.addr, c)
			}
		})
	}
}

// handles returns the rule handles of the chains whose names contain s.
func handles(tp *topo, s string) string {
	out := tp.nft("-a", "list", "ruleset")
	var hs []string
	in := false
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "chain ") {
			in = strings.Contains(line, s)
		}
		if m := regexp.MustCompile(`# handle (\d+)`).FindStringSubmatch(line); in && m != nil {
			hs = append(hs, m[1])
		}
	}
	return strings.Join(hs, ",")
}

func TestUpdateTouchesOnlyThatService(t *testing.T) {
	tp := newTopo(t, 0)
	p := newProxier(t, tp)
	a, b := webPort(0), webPort(0)
	b.Name, b.ClusterIP, b.NodePort = "other", netip.MustParseAddr("10.96.0.11"), 0
	for i := range 3 {
		ep := Endpoint{IP: netip.MustParseAddr(backendIP(i)), Port: 80, Ready: true}
		a.Endpoints, b.Endpoints = append(a.Endpoints, ep), append(b.Endpoints, ep)
	}
	if err := p.Sync([]ServicePort{a, b}); err != nil {
		t.Fatal(err)
	}
	otherBefore := handles(tp, "/other/")
	epChains := func() int { return strings.Count(tp.nft("list", "chains", "ip"), "chain ep-") }
	if n := epChains(); n != 6 {
		t.Fatalf("%d endpoint chains, want 6", n)
	}
	a.Endpoints = a.Endpoints[:2]
	if err := p.Update("default", "web", []ServicePort{a}); err != nil {
		t.Fatal(err)
	}
	if got := handles(tp, "/other/"); got != otherBefore || got == "" {
		t.Errorf("other service's rules changed: %s → %s", otherBefore, got)
	}
	if n := epChains(); n != 5 {
		t.Errorf("%d endpoint chains after removing one, want 5", n)
	}
	if strings.Contains(tp.nft("list", "ruleset"), "web/tcp/http__10.250.3.2") {
		t.Error("removed endpoint's chain still present")
	}
}

func TestRestoreAfterRestart(t *testing.T) {
	tp := newTopo(t, 2)
	for i := range 2 {
		tp.startHTTPD(i)
	}
	first := newProxier(t, tp)
	stale := webPort(2)
	stale.Name, stale.ClusterIP = "stale", netip.MustParseAddr("10.96.0.99")
	stale.AffinityTimeout = time.Minute
	web := webPort(2)
	if err := first.Sync([]ServicePort{web, stale}); err != nil {
		t.Fatal(err)
	}
	first.Close() // a crash: the table stays

	second := newProxier(t, tp)
	web.Endpoints[0].Ready = false
	if err := second.Sync([]ServicePort{web}); err != nil {
		t.Fatal(err)
	}
	table := tp.nft("list", "ruleset")
	// Unclaimed chains are emptied now and deleted by a later Sync.
	for _, gone := range []string{"10.96.0.99", "dnat to 10.250.1.2", "goto svc-hl5zpqo5"} {
		if strings.Contains(table, gone) {
			t.Errorf("%q left after restore:\n%s", gone, table)
		}
	}
	if c := tp.spread(tp.client, vip.String()+":80", 20); c["b1"] != 20 {
		t.Errorf("after restore: %v", c)
	}
	t.Run("a later sync deletes the emptied chains", func(t *testing.T) {
		for i := 0; i < 40 && strings.Contains(tp.nft("list", "chains", "ip"), "stale"); i++ {
			time.Sleep(50 * time.Millisecond) // the kernel frees anonymous maps asynchronously
			if err := second.Sync([]ServicePort{web}); err != nil {
				t.Fatal(err)
			}
		}
		if out := tp.nft("list", "ruleset"); strings.Contains(out, "stale") || strings.Contains(out, "10.250.1.2/80") {
			t.Errorf("stale chains or sets left:\n%s", out)
		}
	})
	t.Run("a second sync changes nothing", func(t *testing.T) {
		before := handles(tp, "")
		if err := second.Sync([]ServicePort{web}); err != nil {
			t.Fatal(err)
		}
		if got := handles(tp, ""); got != before {
			t.Errorf("rules rewritten: %s → %s", before, got)
		}
	})
}

func TestCleanup(t *testing.T) {
	tp := newTopo(t, 0)
	p := newProxier(t, tp)
	udp := webPort(0)
	udp.PortName, udp.Protocol, udp.Port = "dns", UDP, 53
	udp.Endpoints = []Endpoint{{IP: netip.MustParseAddr("10.250.1.2"), Port: 5353, Ready: true}}
	if err := p.Sync([]ServicePort{udp}); err != nil {
		t.Fatal(err)
	}
	if out := tp.nft("list", "ruleset"); !strings.Contains(out, "10.96.0.10 . udp . 53") {
		t.Errorf("udp service missing:\n%s", out)
	}
	for i := range 2 { // the second finds no table and must not fail
		if err := p.Cleanup(); err != nil {
			t.Fatalf("cleanup %d: %v", i, err)
		}
	}
	if out := tp.nft("list", "tables"); strings.Contains(out, "gantry") {
		t.Errorf("table left: %s", out)
	}
	if err := p.Update("default", "web", nil); err != ErrNotSynced {
		t.Errorf("update after cleanup: %v, want ErrNotSynced", err)
	}
}

func TestRestartWithFewerShards(t *testing.T) {
	tp := newTopo(t, 2)
	for i := range 2 {
		tp.startHTTPD(i)
	}
	var ports []ServicePort
	for i := range 8 { // spread over the shards
		sp := webPort(2)
		sp.Name, sp.ClusterIP, sp.NodePort = fmt.Sprintf("web-%d", i), netip.AddrFrom4([4]byte{10, 96, 1, byte(i + 1)}), 0
		ports = append(ports, sp)
	}
	if err := newProxierWith(t, tp, Config{Shards: 4}).Sync(ports); err != nil {
		t.Fatal(err)
	}
	if err := newProxierWith(t, tp, Config{Shards: 2}).Sync(ports); err != nil {
		t.Fatal(err)
	}
	tables := tp.nft("list", "tables")
	if strings.Contains(tables, "gantry-02") || strings.Contains(tables, "gantry-03") || !strings.Contains(tables, "gantry-01") {
		t.Errorf("tables after shrinking to 2 shards:\n%s", tables)
	}
	for _, sp := range ports {
		if c := tp.spread(tp.client, sp.ClusterIP.String()+":80", 4); c["error"] != 0 {
			t.Errorf("%s: %v", sp.Name, c)
		}
	}
}

func TestUpdateRejectsPortsOfAnotherService(t *testing.T) {
	tp := newTopo(t, 0)
	p := newProxier(t, tp)
	if err := p.Sync(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Update("default", "other", []ServicePort{webPort(1)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("err %v, want ErrInvalid", err)
	}
}

func TestUDPService(t *testing.T) {
	tp := newTopo(t, 2)
	for i := range 2 {
		tp.startUDPEcho(i)
	}
	p := newProxier(t, tp)
	dns := webPort(0)
	dns.Name, dns.PortName, dns.Protocol, dns.Port, dns.NodePort = "dns", "dns", UDP, 53, 30053
	for i := range 2 {
		dns.Endpoints = append(dns.Endpoints, Endpoint{IP: netip.MustParseAddr(backendIP(i)), Port: 5353, Ready: true})
	}
	if err := p.Sync([]ServicePort{dns}); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{vip.String() + ":53", nodeIP + ":30053"} {
		t.Run(addr, func(t *testing.T) {
			if c := tp.udpSpread(tp.client, addr, 40); c["b0"] == 0 || c["b1"] == 0 || c["error"] != 0 {
				t.Errorf("udp %s: %v", addr, c)
			}
		})
	}
}

// TestReturningServiceKeepsItsChains: a service missing at restart has its
// chains emptied for later deletion; if it comes back first, they are
// reused, not deleted.
func TestReturningServiceKeepsItsChains(t *testing.T) {
	tp := newTopo(t, 2)
	for i := range 2 {
		tp.startHTTPD(i)
	}
	back := webPort(2)
	back.Name, back.ClusterIP, back.NodePort = "back", netip.MustParseAddr("10.96.0.98"), 0
	if err := newProxier(t, tp).Sync([]ServicePort{back}); err != nil {
		t.Fatal(err)
	}
	p := newProxier(t, tp)
	if err := p.Sync(nil); err != nil { // restart without it: chains emptied
		t.Fatal(err)
	}
	if err := p.Update("default", "back", []ServicePort{back}); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync([]ServicePort{back}); err != nil {
		t.Fatal(err)
	}
	if c := tp.spread(tp.client, "10.96.0.98:80", 10); c["error"] != 0 {
		t.Errorf("returned service: %v", c)
	}
	if len(p.stale.chains)+len(p.stale.sets) != 0 {
		t.Errorf("stale items left: %+v", p.stale)
	}
}
