package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// webSlice is the endpoint slice of service web over backends 0..n-1,
// with those in notReady not ready.
func webSlice(n int, notReady ...int) *discoveryv1.EndpointSlice {
	name, proto, port := "http", corev1.ProtocolTCP, int32(80)
	es := &discoveryv1.EndpointSlice{TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &port}}}
	for i := range n {
		ready := true
		for _, j := range notReady {
			ready = ready && i != j
		}
		node := "node-a"
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{backendIP(i)}, NodeName: &node,
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	return es
}

// runLoop runs a proxier on the topology's node from c's view; stop ends
// it and waits.
func runLoop(t *testing.T, tp *topo, c *projtest.Cluster, cleanup bool) (stop func()) {
	t.Helper()
	p, err := New(Config{NodeName: "node-a", NodeIPs: []netip.Addr{netip.MustParseAddr(nodeIP)}, NetNSPath: tp.nsPath(tp.node),
		ServiceCIDR: netip.MustParsePrefix("10.96.0.0/12")})
	if err != nil {
		t.Fatal(err)
	}
	synced := make(chan struct{})
	l := NewLoop(c.View, p, LoopOptions{CaughtUp: c.CaughtUp, CleanupOnExit: cleanup, Synced: func() { close(synced) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("loop: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	t.Cleanup(func() { // also on failure: never leave tables behind
		if q, err := New(Config{NetNSPath: tp.nsPath(tp.node)}); err == nil {
			_ = q.Cleanup()
			_ = q.Close()
		}
	})
	select {
	case <-synced:
	case <-time.After(10 * time.Second):
		t.Fatal("proxy loop never synced")
	}
	return stop
}

func TestLoopProgramsNetNSFromEvents(t *testing.T) {
	tp := newTopo(t, 3)
	for i := range 3 {
		tp.startHTTPD(i)
	}
	c := projtest.Start(t, projtest.Options{})
	r := c.Apply("service", "default", "web", &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	var svc corev1.Service
	_ = json.Unmarshal(r.Object, &svc)
	vipPort := svc.Spec.ClusterIP + ":80"
	nodePort := fmt.Sprintf("%s:%d", nodeIP, svc.Spec.Ports[0].NodePort)
	c.Apply("endpointslice", "default", "web-1", webSlice(3))

	outer := t // loops outlive the subtests that start them
	stop := runLoop(outer, tp, c, false)
	t.Run("300 requests to the allocated VIP reach all three", func(t *testing.T) {
		counts := tp.spread(tp.client, vipPort, 300)
		t.Logf("VIP %s: %v", vipPort, counts)
		for _, b := range []string{"b0", "b1", "b2"} {
			if counts[b] < 50 {
				t.Errorf("%s got %d of 300 (%v)", b, counts[b], counts)
			}
		}
	})
	t.Run("a not-ready endpoint gets no traffic", func(t *testing.T) {
		c.Apply("endpointslice", "default", "web-1", webSlice(3, 1))
		waitFor(t, func() bool { c := tp.spread(tp.client, vipPort, 30); return c["b1"] == 0 && c["b0"] > 0 && c["b2"] > 0 })
	})
	t.Run("restart restores, node port answers", func(t *testing.T) {
		stop()
		stop = runLoop(outer, tp, c, true)
		counts := tp.spread(tp.client, nodePort, 30)
		if counts["b0"]+counts["b2"] != 30 {
			t.Errorf("after restart, node port %s: %v", nodePort, counts)
		}
	})
	t.Run("deleting the service refuses at once", func(t *testing.T) {
		c.MustDo("service", "delete", aggregates.Command{Namespace: "default", Name: "web"})
		waitFor(t, func() bool {
			conn, err := tp.dial(tp.client, "tcp", vipPort, time.Second)
			if conn != nil {
				conn.Close()
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Logf("dial %s: %v", vipPort, err)
			}
			return errors.Is(err, syscall.ECONNREFUSED)
		})
	})
	t.Run("shutdown cleans up", func(t *testing.T) {
		stop()
		if out := tp.nft("list", "tables"); strings.Contains(out, "gantry") {
			t.Errorf("tables left after shutdown:\n%s", out)
		}
	})
}

// waitFor retries cond (which sends bounded traffic) for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 25; i++ {
		if cond() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("condition never held")
}
