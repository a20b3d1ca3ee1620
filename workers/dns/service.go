package dns

import (
	"net/netip"

	mdns "github.com/miekg/dns"
)

// serviceAnswer answers <svc>.<ns>.svc.<zone>.
func (h *Handler) serviceAnswer(name string, qtype uint16, ns, svc string) answer {
	rec, ok := h.view.Service(ns, svc)
	if !ok {
		return nxDomain()
	}
	if rec.ExternalName != "" {
		cname := &mdns.CNAME{Hdr: h.hdr(name, mdns.TypeCNAME), Target: mdns.Fqdn(rec.ExternalName)}
		return found([]mdns.RR{cname}, nil)
	}
	if qtype == mdns.TypeSRV {
		return h.srvRecords(name, rec, rec.Ports)
	}
	return found(h.addrRRs(name, qtype, serviceAddrs(rec)), nil)
}

// serviceAddrs are the cluster IPs, or for a headless service the ready
// endpoint addresses.
func serviceAddrs(rec *ServiceRecords) []netip.Addr {
	if !rec.Headless {
		return rec.ClusterIPs
	}
	out := make([]netip.Addr, 0, len(rec.Endpoints))
	for _, e := range rec.Endpoints {
		out = append(out, e.Addr)
	}
	return out
}

// endpointAnswer answers <host>.<svc>.<ns>.svc.<zone>.
func (h *Handler) endpointAnswer(name string, qtype uint16, ns, svc, label string) answer {
	rec, ok := h.view.Service(ns, svc)
	if !ok {
		return nxDomain()
	}
	var addrs []netip.Addr
	for _, e := range rec.Endpoints {
		if e.Label() == label {
			addrs = append(addrs, e.Addr)
		}
	}
	if len(addrs) == 0 {
		return nxDomain()
	}
	return found(h.addrRRs(name, qtype, addrs), nil)
}

// srvAnswer answers _<port>._<proto>.<svc>.<ns>.svc.<zone>.
func (h *Handler) srvAnswer(name string, qtype uint16, ns, svc, port, proto string) answer {
	rec, ok := h.view.Service(ns, svc)
	if !ok {
		return nxDomain()
	}
	ports := matchPorts(rec.Ports, port, proto)
	if len(ports) == 0 {
		return nxDomain()
	}
	if qtype != mdns.TypeSRV && qtype != mdns.TypeANY {
		return noData()
	}
	return h.srvRecords(name, rec, ports)
}

func matchPorts(ports []Port, name, proto string) []Port {
	var out []Port
	for _, p := range ports {
		if p.Name == name && p.Protocol == proto {
			out = append(out, p)
		}
	}
	return out
}

// srvRecords: one SRV per service port naming the service, or for a
// headless service one per endpoint port naming the endpoint, with the
// targets' addresses as extra records.
func (h *Handler) srvRecords(name string, rec *ServiceRecords, ports []Port) answer {
	svcName := rec.Name + "." + rec.Namespace + ".svc." + h.cfg.Zone
	if !rec.Headless {
		var rrs []mdns.RR
		for _, p := range ports {
			rrs = append(rrs, h.srv(name, svcName, p.Port, 100))
		}
		return found(rrs, h.addrRRs(svcName, mdns.TypeANY, rec.ClusterIPs))
	}
	return h.headlessSRV(name, svcName, rec, ports)
}

func (h *Handler) headlessSRV(name, svcName string, rec *ServiceRecords, ports []Port) answer {
	var rrs, extra []mdns.RR
	weight := uint16(100 / max(1, len(rec.Endpoints)))
	for _, e := range rec.Endpoints {
		target := e.Label() + "." + svcName
		for _, sp := range ports {
			for _, ep := range matchPorts(e.Ports, sp.Name, sp.Protocol) {
				rrs = append(rrs, h.srv(name, target, ep.Port, weight))
			}
		}
		extra = append(extra, h.addrRRs(target, mdns.TypeANY, []netip.Addr{e.Addr})...)
	}
	return found(rrs, extra)
}
