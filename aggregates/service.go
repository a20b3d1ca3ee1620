package aggregates

import (
	"net"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NodePortRange is the range node ports are taken from.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// Service rules: a DNS-label name; a known type; ports (but for
// ExternalName), named when there are several, unique; node ports in
// 30000–32767; clusterIP "None", empty or an IP, and immutable once set.
func Service() *Kind {
	return &Kind{
		Name: "Service", Token: "service", Plural: "services", Aliases: []string{"svc"},
		Version: "v1", Namespaced: true,
		Verbs:   []string{VerbPatch},
		New:     func() Object { return &corev1.Service{} },
		Default: func(o Object) { defaultService(&o.(*corev1.Service).Spec) },
		Validate: func(o Object) field.ErrorList {
			return validateServiceSpec(&o.(*corev1.Service).Spec, field.NewPath("spec"))
		},
		PrepareUpdate: func(old, new Object) { dropTypeDependentFields(old.(*corev1.Service), new.(*corev1.Service)) },
		ValidateUpdate: func(old, new Object) field.ErrorList {
			o, n := old.(*corev1.Service), new.(*corev1.Service)
			if n.Spec.ClusterIP == "" {
				n.Spec.ClusterIP, n.Spec.ClusterIPs = o.Spec.ClusterIP, o.Spec.ClusterIPs
			}
			if o.Spec.ClusterIP != "" && n.Spec.ClusterIP != o.Spec.ClusterIP {
				return field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIP"), n.Spec.ClusterIP, "field is immutable")}
			}
			return nil
		},
		Unimplemented: []string{"spec.ipFamilies", "spec.internalTrafficPolicy", "spec.trafficDistribution", "spec.loadBalancerSourceRanges"},
	}
}

func defaultService(s *corev1.ServiceSpec) {
	if s.Type == "" {
		s.Type = corev1.ServiceTypeClusterIP
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = corev1.ServiceAffinityNone
	}
	for i := range s.Ports {
		p := &s.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == (intstr.IntOrString{}) {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if (s.Type == corev1.ServiceTypeNodePort || s.Type == corev1.ServiceTypeLoadBalancer) && s.ExternalTrafficPolicy == "" {
		s.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
}

func validateServiceSpec(s *corev1.ServiceSpec, p *field.Path) field.ErrorList {
	errs := oneOf(string(s.Type), p.Child("type"), "ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
	if s.Type == corev1.ServiceTypeExternalName {
		if s.ExternalName == "" {
			errs = append(errs, field.Required(p.Child("externalName"), "an ExternalName service needs externalName"))
		}
		return errs
	}
	if len(s.Ports) == 0 && s.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, field.Required(p.Child("ports"), "a service needs at least one port"))
	}
	if ip := s.ClusterIP; ip != "" && ip != corev1.ClusterIPNone && net.ParseIP(ip) == nil {
		errs = append(errs, field.Invalid(p.Child("clusterIP"), ip, `must be empty, "None", or a valid IP address`))
	}
	if s.ClusterIP == corev1.ClusterIPNone && s.Type != corev1.ServiceTypeClusterIP {
		errs = append(errs, field.Invalid(p.Child("clusterIP"), s.ClusterIP, "may only be None for type ClusterIP"))
	}
	errs = append(errs, oneOf(string(s.SessionAffinity), p.Child("sessionAffinity"), "None", "ClientIP")...)
	return append(errs, validateServicePorts(s, p.Child("ports"))...)
}

func validateServicePorts(s *corev1.ServiceSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range s.Ports {
		pp := p.Index(i)
		if len(s.Ports) > 1 && port.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), "ports must be named when a service has more than one"))
		}
		if port.Name != "" {
			errs = append(errs, validateDNSLabel(port.Name, pp.Child("name"))...)
			if names[port.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names[port.Name] = true
		}
		errs = append(errs, validatePort(port.Port, pp.Child("port"))...)
		errs = append(errs, oneOf(string(port.Protocol), pp.Child("protocol"), "TCP", "UDP", "SCTP")...)
		if port.TargetPort.Type == intstr.Int && port.TargetPort.IntVal != 0 {
			errs = append(errs, validatePort(port.TargetPort.IntVal, pp.Child("targetPort"))...)
		}
		if port.NodePort != 0 {
			if s.Type != corev1.ServiceTypeNodePort && s.Type != corev1.ServiceTypeLoadBalancer {
				errs = append(errs, field.Forbidden(pp.Child("nodePort"), "may only be set for type NodePort or LoadBalancer"))
			} else if port.NodePort < NodePortMin || port.NodePort > NodePortMax {
				errs = append(errs, field.Invalid(pp.Child("nodePort"), port.NodePort, "provided port is not in the valid range. The range of valid ports is 30000-32767"))
			}
		}
	}
	return errs
}

// dropTypeDependentFields: when a Service stops being a NodePort or
// LoadBalancer, the node ports and traffic policy it was given go (unless
// the manifest changed them, which validation then refuses), as the
// Kubernetes API server does.
func dropTypeDependentFields(old, new *corev1.Service) {
	if new.Spec.Type == corev1.ServiceTypeNodePort || new.Spec.Type == corev1.ServiceTypeLoadBalancer {
		return
	}
	given := map[int32]bool{}
	for _, p := range old.Spec.Ports {
		given[p.NodePort] = p.NodePort != 0
	}
	for i := range new.Spec.Ports {
		if given[new.Spec.Ports[i].NodePort] {
			new.Spec.Ports[i].NodePort = 0
		}
	}
	if old.Spec.Type != new.Spec.Type {
		new.Spec.ExternalTrafficPolicy = ""
	}
}
