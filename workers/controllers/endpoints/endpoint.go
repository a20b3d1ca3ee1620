package endpoints

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// group is the endpoints that share an address type and a resolved port
// list; each group becomes one or more slices.
type group struct {
	addressType discoveryv1.AddressType
	ports       []discoveryv1.EndpointPort
	endpoints   []discoveryv1.Endpoint
}

// groupEndpoints turns each pod into one endpoint per IP family and files it
// under the key of its resolved ports. Pods are already sorted.
func groupEndpoints(svc *corev1.Service, pods []*corev1.Pod) map[string]*group {
	groups := map[string]*group{}
	for _, p := range pods {
		ports := resolvePorts(svc, p)
		for _, ip := range podIPs(p) {
			at := addressTypeOf(ip)
			key := groupKey(at, ports)
			g, ok := groups[key]
			if !ok {
				g = &group{addressType: at, ports: ports}
				groups[key] = g
			}
			g.endpoints = append(g.endpoints, endpointFor(svc, p, ip))
		}
	}
	return groups
}

// podIPs returns the pod's IPs, at most one per family.
func podIPs(p *corev1.Pod) []string {
	ips := []string{p.Status.PodIP}
	for _, pip := range p.Status.PodIPs {
		if pip.IP != "" && pip.IP != p.Status.PodIP && addressTypeOf(pip.IP) != addressTypeOf(p.Status.PodIP) {
			ips = append(ips, pip.IP)
			break
		}
	}
	return ips
}

func addressTypeOf(ip string) discoveryv1.AddressType {
	a, err := netip.ParseAddr(ip)
	if err == nil && a.Is6() && !a.Is4In6() {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}

// endpointFor builds the endpoint of pod p at ip, with its conditions.
func endpointFor(svc *corev1.Service, p *corev1.Pod, ip string) discoveryv1.Endpoint {
	ready, serving, terminating := conditions(svc, p)
	ep := discoveryv1.Endpoint{
		Addresses: []string{ip},
		Conditions: discoveryv1.EndpointConditions{
			Ready: &ready, Serving: &serving, Terminating: &terminating,
		},
		TargetRef: &corev1.ObjectReference{
			Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID,
		},
	}
	if p.Spec.NodeName != "" {
		node := p.Spec.NodeName
		ep.NodeName = &node
	}
	if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name {
		host := p.Spec.Hostname
		ep.Hostname = &host
	}
	return ep
}

// conditions follows upstream: a terminating pod is never ready (so proxies
// drain it) but stays serving while its readiness holds;
// publishNotReadyAddresses makes every listed pod ready and serving.
func conditions(svc *corev1.Service, p *corev1.Pod) (ready, serving, terminating bool) {
	terminating = p.DeletionTimestamp != nil
	if svc.Spec.PublishNotReadyAddresses {
		return true, true, terminating
	}
	serving = podReady(p)
	return serving && !terminating, serving, terminating
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
