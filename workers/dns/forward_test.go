package dns

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// upstream answers every A query with 192.0.2.1.
func upstream(t *testing.T) string {
	t.Helper()
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg).SetReply(r)
		m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA,
			Class: mdns.ClassINET, Ttl: 60}, A: net.ParseIP("192.0.2.1")}}
		_ = w.WriteMsg(m)
	})
	srv, err := Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown() })
	return srv.Addr()
}

// silent is a bound UDP port that never answers.
func silent(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

func TestForwarding(t *testing.T) {
	up, dead := upstream(t), silent(t)
	tests := []struct {
		name      string
		upstreams []string
		rcode     int
		answers   int
	}{
		{"forwards outside the zone", []string{up}, mdns.RcodeSuccess, 1},
		{"falls over to the next upstream", []string{dead, up}, mdns.RcodeSuccess, 1},
		{"all upstreams fail", []string{dead}, mdns.RcodeServerFailure, 0},
		{"no upstream", nil, mdns.RcodeRefused, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startServer(t, fixtureStore(), Config{Upstreams: tt.upstreams, ForwardTimeout: 200 * time.Millisecond})
			r := query(t, addr, "udp", "example.org", mdns.TypeA)
			if r.Rcode != tt.rcode || len(r.Answer) != tt.answers {
				t.Fatalf("rcode %s answers %d, want %s %d", mdns.RcodeToString[r.Rcode], len(r.Answer),
					mdns.RcodeToString[tt.rcode], tt.answers)
			}
		})
	}
}
