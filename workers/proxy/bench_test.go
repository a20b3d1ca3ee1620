package proxy

import (
	"fmt"
	"net/netip"
	"testing"
)

// benchPorts is n services with eps endpoints each, every one a NodePort.
func benchPorts(n, eps int) []ServicePort {
	out := make([]ServicePort, n)
	for i := range out {
		sp := ServicePort{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i), PortName: "http", Protocol: TCP,
			ClusterIP: netip.AddrFrom4([4]byte{10, 96, byte(i / 250), byte(i%250 + 1)}), Port: 80,
			NodePort: uint16(30000 + i)}
		for j := range eps {
			sp.Endpoints = append(sp.Endpoints, Endpoint{
				IP: netip.AddrFrom4([4]byte{10, byte(100 + i/250), byte(i % 250), byte(j + 1)}), Port: 8080, Ready: true})
		}
		out[i] = sp
	}
	return out
}

// BenchmarkProgramFromEmpty: 1,000 services × 10 endpoints into an empty
// table (a namespace of its own), in transactions of 100 services.
func BenchmarkProgramFromEmpty(b *testing.B) {
	tp := newTopo(b, 0)
	ports := benchPorts(1000, 10)
	for b.Loop() {
		b.StopTimer()
		p := newProxier(b, tp)
		if err := p.Cleanup(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := p.Sync(ports); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOneEndpointChange: with 1,000 services × 10 endpoints
// programmed, one endpoint flips readiness per op, applied by Update (one
// service) or by a full Sync of all 1,000. shards=1 shows the kernel's
// per-table validation cost that sharding avoids.
func BenchmarkOneEndpointChange(b *testing.B) {
	for _, shards := range []int{16, 1} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			tp := newTopo(b, 0)
			ports := benchPorts(1000, 10)
			p := newProxierWith(b, tp, Config{Shards: shards})
			if err := p.Sync(ports); err != nil {
				b.Fatal(err)
			}
			b.Run("Update", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					sp := &ports[i%len(ports)]
					sp.Endpoints[0].Ready = !sp.Endpoints[0].Ready
					if err := p.Update(sp.Namespace, sp.Name, []ServicePort{*sp}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("FullSync", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					sp := &ports[i%len(ports)]
					sp.Endpoints[0].Ready = !sp.Endpoints[0].Ready
					if err := p.Sync(ports); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
