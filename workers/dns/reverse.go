package dns

import (
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// resolveReverse answers a PTR query for an address the View knows; ok is
// false for every other name (which is then forwarded).
func (h *Handler) resolveReverse(name string, qtype uint16) (answer, bool) {
	addr, ok := parseReverse(name)
	if !ok {
		return answer{}, false
	}
	target, ok := h.view.PTR(addr)
	if !ok {
		return answer{}, false
	}
	if qtype != mdns.TypePTR && qtype != mdns.TypeANY {
		return noData(), true
	}
	ptr := &mdns.PTR{Hdr: h.hdr(name, mdns.TypePTR), Ptr: target + "." + h.cfg.Zone}
	return found([]mdns.RR{ptr}, nil), true
}

// parseReverse turns d.c.b.a.in-addr.arpa. or a nibble ip6.arpa. name
// into the address.
func parseReverse(name string) (netip.Addr, bool) {
	if v4, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		l := strings.Split(v4, ".")
		if len(l) != 4 {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(l[3] + "." + l[2] + "." + l[1] + "." + l[0])
		return a, err == nil
	}
	if v6, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		return parseNibbles(v6)
	}
	return netip.Addr{}, false
}

func parseNibbles(s string) (netip.Addr, bool) {
	l := strings.Split(s, ".")
	if len(l) != 32 {
		return netip.Addr{}, false
	}
	var b strings.Builder
	for i := 31; i >= 0; i-- {
		b.WriteString(l[i])
		if i%4 == 0 && i > 0 {
			b.WriteByte(':')
		}
	}
	a, err := netip.ParseAddr(b.String())
	return a, err == nil && a.Is6()
}
