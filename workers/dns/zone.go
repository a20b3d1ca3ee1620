package dns

import (
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// resolveZone answers name (lower case, inside the zone) for qtype.
func (h *Handler) resolveZone(name string, qtype uint16) answer {
	rel := strings.TrimSuffix(strings.TrimSuffix(name, h.cfg.Zone), ".")
	labels := mdns.SplitDomainName(rel)
	switch n := len(labels); {
	case n == 0:
		return h.apex(qtype)
	case labels[n-1] == "svc":
		return h.resolveSvc(name, qtype, labels[:n-1])
	case labels[n-1] == "pod" && n == 3:
		return h.podAnswer(name, qtype, labels[0])
	}
	return nxDomain()
}

func (h *Handler) apex(qtype uint16) answer {
	if qtype == mdns.TypeSOA {
		return found([]mdns.RR{h.soa()}, nil)
	}
	return noData()
}

// resolveSvc handles names under svc.<zone>; labels exclude "svc".
func (h *Handler) resolveSvc(name string, qtype uint16, labels []string) answer {
	switch len(labels) {
	case 0:
		return noData()
	case 1:
		if h.view.HasNamespace(labels[0]) {
			return noData()
		}
		return nxDomain()
	case 2:
		return h.serviceAnswer(name, qtype, labels[1], labels[0])
	case 3:
		return h.endpointAnswer(name, qtype, labels[2], labels[1], labels[0])
	case 4:
		if isUnderscored(labels[0]) && isUnderscored(labels[1]) {
			return h.srvAnswer(name, qtype, labels[3], labels[2], labels[0][1:], labels[1][1:])
		}
	}
	return nxDomain()
}

func isUnderscored(l string) bool { return len(l) > 1 && l[0] == '_' }

// podAnswer answers <a-b-c-d>.<ns>.pod.<zone> with the dashed address.
func (h *Handler) podAnswer(name string, qtype uint16, label string) answer {
	sep := "."
	if strings.Count(label, "-") > 3 {
		sep = ":"
	}
	a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", sep))
	if err != nil {
		return nxDomain()
	}
	return found(h.addrRRs(name, qtype, []netip.Addr{a}), nil)
}
