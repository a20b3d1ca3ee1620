package dns

import (
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svcObj(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: clusterIP, Ports: ports},
	}
}

type ep struct {
	ip, host string
	ready    bool
}

func sliceObj(ns, svc, name string, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
	}
	for _, e := range eps {
		ready := e.ready
		d := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
		if e.host != "" {
			h := e.host
			d.Hostname = &h
		}
		es.Endpoints = append(es.Endpoints, d)
	}
	return es
}

func epPort(name string, proto corev1.Protocol, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &port}
}

// fixtureStore holds: web (ClusterIP, two ready and one not-ready pod),
// db (headless StatefulSet-style), v6 (IPv6 cluster IP), ext
// (ExternalName).
func fixtureStore() *Store {
	s := NewStore()
	s.UpsertService(svcObj("default", "web", "10.96.0.10",
		corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}))
	s.UpsertSlice(sliceObj("default", "web", "web-abc", []discoveryv1.EndpointPort{
		epPort("http", corev1.ProtocolTCP, 8080), epPort("dns", corev1.ProtocolUDP, 5353)},
		ep{ip: "10.244.0.5", ready: true}, ep{ip: "10.244.0.6", ready: true}, ep{ip: "10.244.0.7"}))
	s.UpsertService(svcObj("default", "db", corev1.ClusterIPNone,
		corev1.ServicePort{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}))
	s.UpsertSlice(sliceObj("default", "db", "db-xyz", []discoveryv1.EndpointPort{epPort("pg", corev1.ProtocolTCP, 5432)},
		ep{ip: "10.244.1.1", host: "db-0", ready: true}, ep{ip: "10.244.1.2", host: "db-1", ready: true},
		ep{ip: "10.244.1.3", host: "db-2"}))
	v6 := svcObj("prod", "v6", "fd00::10", corev1.ServicePort{Name: "http", Port: 80})
	v6.Spec.ClusterIPs = []string{"fd00::10"}
	s.UpsertService(v6)
	ext := svcObj("default", "ext", "")
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "Example.COM"
	s.UpsertService(ext)
	return s
}

// startServer serves view with cfg on 127.0.0.1 and stops it at cleanup.
func startServer(t testing.TB, view View, cfg Config) string {
	t.Helper()
	h, err := NewHandler(view, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown() })
	return srv.Addr()
}

func query(t testing.TB, addr, network, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: network, Timeout: 2 * time.Second}
	m := new(mdns.Msg).SetQuestion(mdns.Fqdn(name), qtype)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", name, mdns.TypeToString[qtype], err)
	}
	return r
}
