package dns

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// rebuild recomputes the records of service k and its reverse entries.
// Cost is the size of that one service.
func (s *Store) rebuild(k key) {
	old := s.records[k]
	svc, ok := s.services[k]
	var rec *ServiceRecords
	if ok {
		rec = buildRecords(svc, s.slices[k])
		s.records[k] = rec
	} else {
		delete(s.records, k)
	}
	s.unindex(old)
	s.index(rec)
}

func (s *Store) index(r *ServiceRecords) {
	if r == nil {
		return
	}
	for _, ip := range r.ClusterIPs {
		s.ptr[ip] = r.Name + "." + r.Namespace + ".svc"
	}
	for _, e := range r.Endpoints {
		s.ptr[e.Addr] = e.Label() + "." + r.Name + "." + r.Namespace + ".svc"
	}
}

func (s *Store) unindex(r *ServiceRecords) {
	if r == nil {
		return
	}
	suffix := "." + r.Name + "." + r.Namespace + ".svc"
	for _, ip := range r.ClusterIPs {
		if s.ptr[ip] == suffix[1:] {
			delete(s.ptr, ip)
		}
	}
	for _, e := range r.Endpoints {
		if s.ptr[e.Addr] == e.Label()+suffix {
			delete(s.ptr, e.Addr)
		}
	}
}

func buildRecords(svc *corev1.Service, slices map[string]*discoveryv1.EndpointSlice) *ServiceRecords {
	r := &ServiceRecords{
		Namespace: svc.Namespace, Name: svc.Name,
		Headless:     svc.Spec.ClusterIP == corev1.ClusterIPNone,
		ExternalName: externalName(svc),
		Ports:        servicePorts(svc),
	}
	for _, ip := range clusterIPs(svc) {
		if a, err := netip.ParseAddr(ip); err == nil {
			r.ClusterIPs = append(r.ClusterIPs, a)
		}
	}
	r.Endpoints = readyEndpoints(slices)
	return r
}

func externalName(svc *corev1.Service) string {
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		return ""
	}
	return strings.ToLower(svc.Spec.ExternalName)
}

func clusterIPs(svc *corev1.Service) []string {
	if len(svc.Spec.ClusterIPs) > 0 {
		return svc.Spec.ClusterIPs
	}
	if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return []string{svc.Spec.ClusterIP}
	}
	return nil
}

func servicePorts(svc *corev1.Service) []Port {
	var out []Port
	for _, p := range svc.Spec.Ports {
		out = append(out, Port{Name: p.Name, Protocol: protocol(p.Protocol), Port: uint16(p.Port)})
	}
	return out
}

func protocol(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

// readyEndpoints lists the ready addresses of all slices, one entry per
// address, in a stable order (slice name, then position).
func readyEndpoints(slices map[string]*discoveryv1.EndpointSlice) []Endpoint {
	var out []Endpoint
	seen := map[netip.Addr]bool{}
	for _, name := range sortedKeys(slices) {
		es := slices[name]
		ports := slicePorts(es)
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || seen[ip] {
					continue
				}
				seen[ip] = true
				out = append(out, Endpoint{Addr: ip, Hostname: deref(ep.Hostname), Ports: ports})
			}
		}
	}
	return out
}

func slicePorts(es *discoveryv1.EndpointSlice) []Port {
	var out []Port
	for _, p := range es.Ports {
		if p.Port == nil {
			continue
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		out = append(out, Port{Name: deref(p.Name), Protocol: protocol(proto), Port: uint16(*p.Port)})
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return strings.ToLower(*s)
}
