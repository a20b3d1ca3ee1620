package proxy

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func TestFromObjects(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.96.0.10", Type: corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			SessionAffinity:       corev1.ServiceAffinityClientIP,
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, NodePort: 30080},
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				{Name: "sctp", Port: 9, Protocol: corev1.ProtocolSCTP},
			},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{
			Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}}}},
	}
	slices := []*discoveryv1.EndpointSlice{{
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr("http"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(int32(8080))},
			{Name: ptr("dns"), Protocol: ptr(corev1.ProtocolUDP), Port: ptr(int32(5353))},
		},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.0.5"}, NodeName: ptr("node-a"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"10.244.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		},
	}, {AddressType: discoveryv1.AddressTypeIPv6, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::5"}}}}}

	tests := []struct {
		name string
		svc  func() *corev1.Service
		want []string
	}{
		{"ports, endpoints, policies", func() *corev1.Service { return svc }, []string{
			"default/web/tcp/http 10.96.0.10:80 np=30080 lb=[192.0.2.10] aff=3h0m0s local=true eps=[{10.244.0.5 8080 true node-a} {10.244.0.6 8080 false }]",
			"default/web/udp/dns 10.96.0.10:53 np=0 lb=[192.0.2.10] aff=3h0m0s local=true eps=[{10.244.0.5 5353 true node-a} {10.244.0.6 5353 false }]",
		}},
		{"headless has none", func() *corev1.Service {
			s := svc.DeepCopy()
			s.Spec.ClusterIP = corev1.ClusterIPNone
			return s
		}, nil},
		{"affinity timeout from config", func() *corev1.Service {
			s := svc.DeepCopy()
			s.Spec.Ports = s.Spec.Ports[:1]
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
			return s
		}, []string{
			"default/web/tcp/http 10.96.0.10:80 np=30080 lb=[192.0.2.10] aff=1m0s local=true eps=[{10.244.0.5 8080 true node-a} {10.244.0.6 8080 false }]",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, sp := range FromObjects(tt.svc(), slices) {
				got = append(got, fmt.Sprintf("%s %s:%d np=%d lb=%v aff=%v local=%v eps=%v", sp.Key(), sp.ClusterIP, sp.Port,
					sp.NodePort, sp.LoadBalancerIPs, sp.AffinityTimeout, sp.ExternalLocal, sp.Endpoints))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
