package scheduler

import corev1 "k8s.io/api/core/v1"

// protoPort is a host port on one protocol; IPs are tracked beneath it.
type protoPort struct {
	protocol corev1.Protocol
	port     int32
}

// hostPorts counts host ports in use on a node: protocol/port → IP → users.
type hostPorts map[protoPort]map[string]int

const wildcardIP = "0.0.0.0"

func (h hostPorts) add(pod *corev1.Pod, delta int) {
	forEachHostPort(pod, func(pp protoPort, ip string) {
		ips := h[pp]
		if ips == nil {
			ips = map[string]int{}
			h[pp] = ips
		}
		ips[ip] += delta
		if ips[ip] <= 0 {
			delete(ips, ip)
		}
		if len(ips) == 0 {
			delete(h, pp)
		}
	})
}

// conflicts reports whether any host port the pod wants is taken. A wildcard
// address conflicts with every address on the same protocol and port.
func (h hostPorts) conflicts(pod *corev1.Pod) bool {
	conflict := false
	forEachHostPort(pod, func(pp protoPort, ip string) {
		ips := h[pp]
		if len(ips) == 0 {
			return
		}
		if ip == wildcardIP || ips[wildcardIP] > 0 || ips[ip] > 0 {
			conflict = true
		}
	})
	return conflict
}

func forEachHostPort(pod *corev1.Pod, fn func(protoPort, string)) {
	for i := range pod.Spec.Containers {
		for _, p := range pod.Spec.Containers[i].Ports {
			if p.HostPort <= 0 {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ip := p.HostIP
			if ip == "" || ip == "::" {
				ip = wildcardIP
			}
			fn(protoPort{protocol: proto, port: p.HostPort}, ip)
		}
	}
}

func wantsHostPorts(pod *corev1.Pod) bool {
	want := false
	forEachHostPort(pod, func(protoPort, string) { want = true })
	return want
}
