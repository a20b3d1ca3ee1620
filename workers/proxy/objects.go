package proxy

import (
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// defaultAffinityTimeout is upstream's ClientIP timeout when none is set.
const defaultAffinityTimeout = 10800 * time.Second

// FromObjects turns a Service and its EndpointSlices into the ServicePorts
// to program: one per service port, IPv4 only. Headless and ExternalName
// services have none. Endpoint ports are matched by port name and protocol.
func FromObjects(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) []ServicePort {
	vip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !vip.Is4() || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var out []ServicePort
	for _, p := range svc.Spec.Ports {
		proto, ok := protocolOf(p.Protocol)
		if !ok {
			continue
		}
		sp := ServicePort{
			Namespace: svc.Namespace, Name: svc.Name, PortName: p.Name, Protocol: proto,
			ClusterIP: vip, Port: uint16(p.Port), NodePort: uint16(p.NodePort),
			LoadBalancerIPs: loadBalancerIPs(svc),
			AffinityTimeout: affinityTimeout(svc),
			ExternalLocal:   svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
		}
		sp.Endpoints = endpointsFor(slices, p.Name, p.Protocol)
		out = append(out, sp)
	}
	return out
}

func protocolOf(p corev1.Protocol) (Protocol, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return TCP, true
	case corev1.ProtocolUDP:
		return UDP, true
	}
	return 0, false
}

func loadBalancerIPs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(ing.IP); err == nil && a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

func affinityTimeout(svc *corev1.Service) time.Duration {
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return 0
	}
	cfg := svc.Spec.SessionAffinityConfig
	if cfg != nil && cfg.ClientIP != nil && cfg.ClientIP.TimeoutSeconds != nil {
		return time.Duration(*cfg.ClientIP.TimeoutSeconds) * time.Second
	}
	return defaultAffinityTimeout
}

// endpointsFor lists the IPv4 endpoints of the slices' port named name.
func endpointsFor(slices []*discoveryv1.EndpointSlice, name string, proto corev1.Protocol) []Endpoint {
	var out []Endpoint
	seen := map[netip.Addr]bool{}
	for _, es := range slices {
		if es.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		port, ok := slicePort(es, name, proto)
		if !ok {
			continue
		}
		for _, ep := range es.Endpoints {
			out = appendEndpoint(out, seen, ep, port)
		}
	}
	return out
}

func appendEndpoint(out []Endpoint, seen map[netip.Addr]bool, ep discoveryv1.Endpoint, port uint16) []Endpoint {
	for _, a := range ep.Addresses {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.Is4() || seen[ip] {
			continue
		}
		seen[ip] = true
		e := Endpoint{IP: ip, Port: port, Ready: ep.Conditions.Ready == nil || *ep.Conditions.Ready}
		if ep.NodeName != nil {
			e.Node = *ep.NodeName
		}
		out = append(out, e)
	}
	return out
}

func slicePort(es *discoveryv1.EndpointSlice, name string, proto corev1.Protocol) (uint16, bool) {
	want, _ := protocolOf(proto)
	for _, p := range es.Ports {
		pn, pp := "", corev1.ProtocolTCP
		if p.Name != nil {
			pn = *p.Name
		}
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if got, _ := protocolOf(pp); pn == name && got == want && p.Port != nil {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}
