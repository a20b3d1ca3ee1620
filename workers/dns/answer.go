package dns

import (
	"net/netip"

	mdns "github.com/miekg/dns"
)

// answer is the outcome of resolving one question.
type answer struct {
	rcode int
	rrs   []mdns.RR
	extra []mdns.RR
}

func noData() answer   { return answer{rcode: mdns.RcodeSuccess} }
func nxDomain() answer { return answer{rcode: mdns.RcodeNameError} }

func (h *Handler) hdr(name string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: h.cfg.TTL}
}

func (h *Handler) soa() mdns.RR {
	return &mdns.SOA{
		Hdr: h.hdr(h.cfg.Zone, mdns.TypeSOA),
		Ns:  "ns.dns." + h.cfg.Zone, Mbox: "hostmaster." + h.cfg.Zone,
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: h.cfg.TTL,
	}
}

// addrRRs returns A or AAAA records named name for the addresses of the
// family qtype asks for (ANY: both).
func (h *Handler) addrRRs(name string, qtype uint16, addrs []netip.Addr) []mdns.RR {
	var out []mdns.RR
	for _, a := range addrs {
		switch {
		case a.Is4() && (qtype == mdns.TypeA || qtype == mdns.TypeANY):
			out = append(out, &mdns.A{Hdr: h.hdr(name, mdns.TypeA), A: a.AsSlice()})
		case a.Is6() && (qtype == mdns.TypeAAAA || qtype == mdns.TypeANY):
			out = append(out, &mdns.AAAA{Hdr: h.hdr(name, mdns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	return out
}

func (h *Handler) srv(name, target string, port uint16, weight uint16) mdns.RR {
	return &mdns.SRV{Hdr: h.hdr(name, mdns.TypeSRV), Priority: 0, Weight: weight, Port: port, Target: target}
}

// found is the answer for a name that exists: its records, or NODATA.
func found(rrs, extra []mdns.RR) answer {
	return answer{rcode: mdns.RcodeSuccess, rrs: rrs, extra: extra}
}
