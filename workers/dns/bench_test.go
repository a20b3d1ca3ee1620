package dns

import (
	"fmt"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// benchStore holds 1,000 services with 10 ready endpoints each.
func benchStore() *Store {
	s := NewStore()
	ports := []discoveryv1.EndpointPort{epPort("http", corev1.ProtocolTCP, 8080)}
	for i := range 1000 {
		name := fmt.Sprintf("svc-%d", i)
		s.UpsertService(svcObj("default", name, fmt.Sprintf("10.96.%d.%d", i/250, i%250+1),
			corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}))
		var eps []ep
		for j := range 10 {
			eps = append(eps, ep{ip: fmt.Sprintf("10.%d.%d.%d", 100+i/250, i%250, j+1), ready: true})
		}
		s.UpsertSlice(sliceObj("default", name, name+"-1", ports, eps...))
	}
	return s
}

// BenchmarkServerUDP is a load generator: parallel clients, one UDP socket
// each, querying A records of random services over loopback.
func BenchmarkServerUDP(b *testing.B) {
	addr := startServer(b, benchStore(), Config{})
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
		conn, err := c.Dial(addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		i := 0
		for pb.Next() {
			m := new(mdns.Msg).SetQuestion(fmt.Sprintf("svc-%d.default.svc.cluster.local.", i%1000), mdns.TypeA)
			r, _, err := c.ExchangeWithConn(m, conn)
			if err != nil || len(r.Answer) != 1 {
				b.Errorf("query %d: %v %v", i, err, r)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// discard is a ResponseWriter that drops the reply.
type discard struct{ mdns.ResponseWriter }

func (discard) RemoteAddr() net.Addr     { return &net.TCPAddr{} }
func (discard) WriteMsg(*mdns.Msg) error { return nil }

// BenchmarkHandler measures answering alone, without sockets.
func BenchmarkHandler(b *testing.B) {
	h, err := NewHandler(benchStore(), Config{})
	if err != nil {
		b.Fatal(err)
	}
	qs := make([]*mdns.Msg, 1000)
	for i := range qs {
		qs[i] = new(mdns.Msg).SetQuestion(fmt.Sprintf("svc-%d.default.svc.cluster.local.", i), mdns.TypeA)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.ServeDNS(discard{}, qs[i%len(qs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
