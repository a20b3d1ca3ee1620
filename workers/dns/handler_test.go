package dns

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// rrText renders RRs without header name/TTL noise: "A 10.96.0.10".
func rrText(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		f := strings.Fields(rr.String())
		out = append(out, strings.Join(append([]string{f[3]}, f[4:]...), " "))
	}
	sort.Strings(out)
	return out
}

func TestHandlerAnswers(t *testing.T) {
	addr := startServer(t, fixtureStore(), Config{TTL: 7})
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answer  []string
		extra   []string
		soaAuth bool
	}{
		{"service A", "web.default.svc.cluster.local", mdns.TypeA, 0, []string{"A 10.96.0.10"}, nil, false},
		{"case insensitive", "WEB.Default.SVC.cluster.LOCAL", mdns.TypeA, 0, []string{"A 10.96.0.10"}, nil, false},
		{"v4 service AAAA is nodata", "web.default.svc.cluster.local", mdns.TypeAAAA, 0, nil, nil, true},
		{"v6 service AAAA", "v6.prod.svc.cluster.local", mdns.TypeAAAA, 0, []string{"AAAA fd00::10"}, nil, false},
		{"headless ready pods only", "db.default.svc.cluster.local", mdns.TypeA, 0,
			[]string{"A 10.244.1.1", "A 10.244.1.2"}, nil, false},
		{"pod hostname", "db-1.db.default.svc.cluster.local", mdns.TypeA, 0, []string{"A 10.244.1.2"}, nil, false},
		{"not-ready hostname", "db-2.db.default.svc.cluster.local", mdns.TypeA, mdns.RcodeNameError, nil, nil, true},
		{"dashed endpoint IP", "10-244-0-5.web.default.svc.cluster.local", mdns.TypeA, 0, []string{"A 10.244.0.5"}, nil, false},
		{"SRV cluster IP", "_http._tcp.web.default.svc.cluster.local", mdns.TypeSRV, 0,
			[]string{"SRV 0 100 80 web.default.svc.cluster.local."}, []string{"A 10.96.0.10"}, false},
		{"SRV udp port", "_dns._udp.web.default.svc.cluster.local", mdns.TypeSRV, 0,
			[]string{"SRV 0 100 53 web.default.svc.cluster.local."}, []string{"A 10.96.0.10"}, false},
		{"SRV headless", "_pg._tcp.db.default.svc.cluster.local", mdns.TypeSRV, 0,
			[]string{"SRV 0 50 5432 db-0.db.default.svc.cluster.local.", "SRV 0 50 5432 db-1.db.default.svc.cluster.local."},
			[]string{"A 10.244.1.1", "A 10.244.1.2"}, false},
		{"SRV wrong proto", "_http._udp.web.default.svc.cluster.local", mdns.TypeSRV, mdns.RcodeNameError, nil, nil, true},
		{"externalname CNAME", "ext.default.svc.cluster.local", mdns.TypeA, 0, []string{"CNAME example.com."}, nil, false},
		{"PTR cluster IP", "10.0.96.10.in-addr.arpa", mdns.TypePTR, 0, []string{"PTR web.default.svc.cluster.local."}, nil, false},
		{"PTR pod IP", "1.1.244.10.in-addr.arpa", mdns.TypePTR, 0, []string{"PTR db-0.db.default.svc.cluster.local."}, nil, false},
		{"PTR v6", "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", mdns.TypePTR, 0,
			[]string{"PTR v6.prod.svc.cluster.local."}, nil, false},
		{"pod A record", "10-244-9-9.default.pod.cluster.local", mdns.TypeA, 0, []string{"A 10.244.9.9"}, nil, false},
		{"missing service", "nope.default.svc.cluster.local", mdns.TypeA, mdns.RcodeNameError, nil, nil, true},
		{"missing namespace", "prod2.svc.cluster.local", mdns.TypeA, mdns.RcodeNameError, nil, nil, true},
		{"existing namespace", "default.svc.cluster.local", mdns.TypeA, 0, nil, nil, true},
		{"garbage in zone", "a.b.c.d.e.f.cluster.local", mdns.TypeA, mdns.RcodeNameError, nil, nil, true},
		{"apex SOA", "cluster.local", mdns.TypeSOA, 0,
			[]string{"SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 7"}, nil, false},
		{"outside zone, no upstream", "example.org", mdns.TypeA, mdns.RcodeRefused, nil, nil, false},
		{"unknown reverse, no upstream", "9.9.9.10.in-addr.arpa", mdns.TypePTR, mdns.RcodeRefused, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := query(t, addr, "udp", tt.qname, tt.qtype)
			if r.Rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tt.rcode])
			}
			if got := rrText(r.Answer); fmt.Sprint(got) != fmt.Sprint(tt.answer) {
				t.Errorf("answer %q, want %q", got, tt.answer)
			}
			if got := rrText(r.Extra); fmt.Sprint(got) != fmt.Sprint(tt.extra) {
				t.Errorf("extra %q, want %q", got, tt.extra)
			}
			if hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == mdns.TypeSOA; hasSOA != tt.soaAuth {
				t.Errorf("SOA in authority = %v, want %v", hasSOA, tt.soaAuth)
			}
			for _, rr := range r.Answer {
				if rr.Header().Ttl != 7 {
					t.Errorf("ttl %d, want 7", rr.Header().Ttl)
				}
			}
		})
	}
}

func TestHandlerTCPAndCustomZone(t *testing.T) {
	addr := startServer(t, fixtureStore(), Config{Zone: "gantry.internal"})
	r := query(t, addr, "tcp", "web.default.svc.gantry.internal", mdns.TypeA)
	if got := rrText(r.Answer); fmt.Sprint(got) != "[A 10.96.0.10]" || r.Answer[0].Header().Ttl != 5 {
		t.Fatalf("answer %v", r.Answer)
	}
	if r := query(t, addr, "tcp", "web.default.svc.cluster.local", mdns.TypeA); r.Rcode != mdns.RcodeRefused {
		t.Fatalf("other zone: rcode %s, want REFUSED", mdns.RcodeToString[r.Rcode])
	}
}

func TestHandlerTruncatesLargeUDP(t *testing.T) {
	s := NewStore()
	s.UpsertService(svcObj("default", "big", "None"))
	var eps []ep
	for i := range 200 {
		eps = append(eps, ep{ip: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), ready: true})
	}
	s.UpsertSlice(sliceObj("default", "big", "big-1", nil, eps...))
	addr := startServer(t, s, Config{})
	if r := query(t, addr, "udp", "big.default.svc.cluster.local", mdns.TypeA); !r.Truncated {
		t.Errorf("UDP answer of 200 A records not truncated (%d answers)", len(r.Answer))
	}
	if r := query(t, addr, "tcp", "big.default.svc.cluster.local", mdns.TypeA); len(r.Answer) != 200 {
		t.Errorf("TCP answers %d, want 200", len(r.Answer))
	}
}

func TestNewHandlerRejectsBadZone(t *testing.T) {
	if _, err := NewHandler(NewStore(), Config{Zone: "bad..zone"}); err == nil {
		t.Fatal("want error for bad zone")
	}
}
