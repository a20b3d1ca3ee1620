package endpoints

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// resolvePorts maps each service port to the port on pod p. A named
// targetPort is looked up among the pod's container ports (name and
// protocol); a port the pod does not expose is left out for that pod.
func resolvePorts(svc *corev1.Service, p *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, ok := targetPort(sp, p)
		if !ok {
			continue
		}
		name, proto := sp.Name, protocolOf(sp.Protocol)
		ep := discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &port}
		if sp.AppProtocol != nil {
			ap := *sp.AppProtocol
			ep.AppProtocol = &ap
		}
		out = append(out, ep)
	}
	return out
}

func targetPort(sp *corev1.ServicePort, p *corev1.Pod) (int32, bool) {
	tp := sp.TargetPort
	switch {
	case tp.Type == intstr.String && tp.StrVal != "":
		return namedPort(p, tp.StrVal, protocolOf(sp.Protocol))
	case tp.IntVal != 0:
		return tp.IntVal, true
	default:
		return sp.Port, true
	}
}

func namedPort(p *corev1.Pod, name string, proto corev1.Protocol) (int32, bool) {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == name && protocolOf(cp.Protocol) == proto {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// groupKey identifies an address type and port list.
func groupKey(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	b.WriteString(string(at))
	for _, p := range ports {
		fmt.Fprintf(&b, "|%s/%s/%d", *p.Name, *p.Protocol, *p.Port)
	}
	return b.String()
}
