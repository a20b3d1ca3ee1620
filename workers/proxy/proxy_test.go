package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

var vip = netip.MustParseAddr("10.96.0.10")

// webPort is a service port over the first n backends of the topology.
func webPort(n int) ServicePort {
	sp := ServicePort{Namespace: "default", Name: "web", PortName: "http", Protocol: TCP,
		ClusterIP: vip, Port: 80, NodePort: 30080}
	for i := range n {
		sp.Endpoints = append(sp.Endpoints, Endpoint{IP: netip.MustParseAddr(backendIP(i)), Port: 80, Ready: true, Node: "node-a"})
	}
	return sp
}

// newProxier programs the topology's node namespace and removes its table
// at cleanup.
func newProxier(t testing.TB, tp *topo) *Proxier {
	t.Helper()
	return newProxierWith(t, tp, Config{})
}

func newProxierWith(t testing.TB, tp *topo, cfg Config) *Proxier {
	t.Helper()
	cfg.NodeName, cfg.NodeIPs, cfg.NetNSPath = "node-a", []netip.Addr{netip.MustParseAddr(nodeIP)}, tp.nsPath(tp.node)
	cfg.ServiceCIDR = netip.MustParsePrefix("10.96.0.0/12")
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Cleanup(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		p.Close()
	})
	return p
}

func TestTrafficSpreadsAndFollowsEndpoints(t *testing.T) {
	for _, shards := range []int{16, 1} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) { trafficSpreadsAndFollows(t, shards) })
	}
}

func trafficSpreadsAndFollows(t *testing.T, shards int) {
	tp := newTopo(t, 3)
	for i := range 3 {
		tp.startHTTPD(i)
	}
	p := newProxierWith(t, tp, Config{Shards: shards})
	sp := webPort(3)
	if err := p.Sync([]ServicePort{sp}); err != nil {
		t.Fatalf("sync: %v\n%s", err, tp.nft("list", "ruleset"))
	}
	t.Run("300 requests land on all three", func(t *testing.T) {
		counts := tp.spread(tp.client, vip.String()+":80", 300)
		for _, b := range []string{"b0", "b1", "b2"} {
			if counts[b] < 50 {
				t.Errorf("%s got %d of 300 (%v)", b, counts[b], counts)
			}
		}
		t.Logf("spread: %v", counts)
	})
	t.Run("removing an endpoint stops traffic to it", func(t *testing.T) {
		sp.Endpoints[1].Ready = false
		if err := p.Update("default", "web", []ServicePort{sp}); err != nil {
			t.Fatal(err)
		}
		counts := tp.spread(tp.client, vip.String()+":80", 60)
		if counts["b1"] != 0 || counts["b0"] == 0 || counts["b2"] == 0 {
			t.Errorf("after removing b1: %v", counts)
		}
	})
	t.Run("NodePort reachable on the node address", func(t *testing.T) {
		counts := tp.spread(tp.client, nodeIP+":30080", 30)
		if counts["b0"]+counts["b2"] != 30 {
			t.Errorf("nodeport: %v", counts)
		}
	})
	t.Run("deleting the service rejects fast (service CIDR)", func(t *testing.T) {
		if err := p.Delete("default", "web"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := tp.dial(tp.client, "tcp", vip.String()+":80", 3*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(start) > time.Second {
			t.Errorf("after delete: %v after %v, want refused at once", err, time.Since(start))
		}
	})
}

func TestNoEndpointsRejectsFast(t *testing.T) {
	tp := newTopo(t, 1)
	p := newProxier(t, tp)
	empty, emptyUDP := webPort(0), webPort(0)
	emptyUDP.Name, emptyUDP.Protocol, emptyUDP.Port, emptyUDP.NodePort = "dns", UDP, 53, 0
	if err := p.Sync([]ServicePort{empty, emptyUDP}); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, network, addr string }{
		{"cluster IP, tcp reset", "tcp", vip.String() + ":80"},
		{"node port, tcp reset", "tcp", nodeIP + ":30080"},
		{"udp, icmp port unreachable", "udp", vip.String() + ":53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := exchange(tp, tt.network, tt.addr)
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("err %v, want connection refused", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("rejection took %v", d)
			}
		})
	}
	if out := tp.nft("list", "map", "ip", "gantry", "no-endpoint-services"); !strings.Contains(out, "10.96.0.10 . tcp . 80") {
		t.Errorf("no-endpoint-services lacks the VIP:\n%s", out)
	}
}

// exchange connects from the client and, for UDP, sends one datagram and
// waits for an answer (or the ICMP error that refuses it).
func exchange(tp *topo, network, addr string) error {
	c, err := tp.dial(tp.client, network, addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if network != "udp" {
		return nil
	}
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("hi")); err != nil {
		return err
	}
	_, err = c.Read(make([]byte, 16))
	return err
}
