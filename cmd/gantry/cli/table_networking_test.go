package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/gantry-sh/gantry/aggregates"
)

func TestNetworkingRows(t *testing.T) {
	lb := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.5.5",
		Ports: []corev1.ServicePort{{Port: 443, NodePort: 31443, Protocol: corev1.ProtocolTCP}}}}
	ext := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}}
	p80, p8080 := int32(80), int32(8080)
	es := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Port: &p8080}, {Port: &p80}}}
	for i := range 5 {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.244.0.%d", i+1)}})
	}
	class := "gantry"
	ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{IngressClassName: &class,
		Rules: []networkingv1.IngressRule{{Host: "a.test"}, {}}, TLS: []networkingv1.IngressTLS{{Hosts: []string{"a.test"}}}},
		Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "127.0.0.1"}}}}}
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"pending load balancer", first(serviceRow(lb)), "[LoadBalancer 10.96.5.5 <pending> 443:31443/TCP]"},
		{"external name", first(serviceRow(ext)), "[ExternalName <none> example.com <none>]"},
		{"endpoint slice", first(endpointSliceRow(es)), "[IPv4 8080,80 10.244.0.1,10.244.0.2,10.244.0.3 + 2 more...]"},
		{"ingress", first(ingressRow(ing)), "[gantry a.test,* 127.0.0.1 80, 443]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(tt.got); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func first(a, _ []string) []string { return a }

func TestWorkloadRows(t *testing.T) {
	var out bytes.Buffer
	node := `{"metadata":{"name":"n1"},"spec":{"unschedulable":true,"podCIDR":"10.244.1.0/24"},"status":{"conditions":[{"type":"Ready","status":"True"}],"addresses":[{"type":"InternalIP","address":"192.0.2.1"}]}}`
	k, _ := aggregates.Builtin().Lookup("node")
	if err := printTable(&out, k, []json.RawMessage{json.RawMessage(node)}, tableOpts{wide: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Ready,SchedulingDisabled") || !strings.Contains(out.String(), "10.244.1.0/24") {
		t.Fatalf("node row:\n%s", out.String())
	}
}
