package dns_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections/projtest"
	"github.com/gantry-sh/gantry/workers/dns"
)

func svc(name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{ClusterIP: clusterIP, Ports: ports}}
}

func slice(name, service string, port int32, eps map[string]string) *discoveryv1.EndpointSlice {
	pn, proto := "pg", corev1.ProtocolTCP
	es := &discoveryv1.EndpointSlice{TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  metav1.ObjectMeta{Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &pn, Protocol: &proto, Port: &port}}}
	ips := make([]string, 0, len(eps))
	for ip := range eps {
		ips = append(ips, ip)
	}
	sort.Strings(ips)
	for _, ip := range ips {
		ready, host := true, eps[ip]
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Hostname: &host, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	return es
}

func TestWorkerAnswersFromEvents(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("service", "default", "web", svc("web", "", corev1.ServicePort{Name: "http", Port: 80}))
	addrs := make(chan []string, 1)
	w, err := dns.NewWorker(c.View, dns.Config{}, dns.WorkerOptions{Addrs: []string{"127.0.0.1:0"}, CaughtUp: c.CaughtUp,
		Ready: func(a []string) { addrs <- a }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	var addr string
	select {
	case a := <-addrs:
		addr = a[0]
	case <-time.After(10 * time.Second):
		t.Fatal("dns worker not ready")
	}
	e, _ := c.View.Get("service", "default", "web")
	var webSvc corev1.Service
	_ = jsonUnmarshal(e.Raw, &webSvc)

	q := func(name string, qtype uint16) *mdns.Msg {
		t.Helper()
		cl := &mdns.Client{Timeout: 2 * time.Second}
		r, _, err := cl.Exchange(new(mdns.Msg).SetQuestion(name, qtype), addr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("A of a ClusterIP service (allocated at create, replayed at start)", func(t *testing.T) {
		r := q("web.default.svc.cluster.local.", mdns.TypeA)
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != webSvc.Spec.ClusterIP {
			t.Fatalf("answer %v, want %s", r.Answer, webSvc.Spec.ClusterIP)
		}
	})
	c.Apply("service", "default", "db", svc("db", "None", corev1.ServicePort{Name: "pg", Port: 5432}))
	c.Apply("endpointslice", "default", "db-1", slice("db-1", "db", 5432, map[string]string{"10.244.1.1": "db-0", "10.244.1.2": "db-1"}))
	projtest.Eventually(t, 5*time.Second, "headless answer", func() bool {
		return len(q("db.default.svc.cluster.local.", mdns.TypeA).Answer) == 2
	})
	t.Run("headless A lists endpoints, hostnames resolve", func(t *testing.T) {
		r := q("db-1.db.default.svc.cluster.local.", mdns.TypeA)
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "10.244.1.2" {
			t.Errorf("db-1: %v", r.Answer)
		}
	})
	t.Run("SRV", func(t *testing.T) {
		r := q("_pg._tcp.db.default.svc.cluster.local.", mdns.TypeSRV)
		if len(r.Answer) != 2 || r.Answer[0].(*mdns.SRV).Port != 5432 {
			t.Errorf("srv: %v", r.Answer)
		}
		r = q("_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV)
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.SRV).Target != "web.default.svc.cluster.local." {
			t.Errorf("srv web: %v", r.Answer)
		}
	})
	t.Run("deleted service is NXDOMAIN", func(t *testing.T) {
		c.MustDo("service", "delete", aggregates.Command{Namespace: "default", Name: "web"})
		projtest.Eventually(t, 5*time.Second, "NXDOMAIN", func() bool {
			return q("web.default.svc.cluster.local.", mdns.TypeA).Rcode == mdns.RcodeNameError
		})
		if r := q("nope.default.svc.cluster.local.", mdns.TypeA); r.Rcode != mdns.RcodeNameError {
			t.Errorf("nope: rcode %d", r.Rcode)
		}
	})
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
