package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
)

// allocPlane is a command service on an embedded JetStream, no projections.
type allocPlane struct {
	conn   *bus.Conn
	client *bus.Client
	store  *bus.Store
	alloc  service.AllocConfig
	stop   func() // stops the running command service
	// afterAnswer, when set, runs between each answer and what the service
	// does after it (service.SetAfterAnswer).
	afterAnswer func()
	metrics     *service.Metrics // nil: the service's own, unregistered
}

func startAllocPlane(t *testing.T, alloc service.AllocConfig) *allocPlane {
	t.Helper()
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := bus.ConnectInProcess(ns, "alloc-test")
	if err != nil {
		t.Fatal(err)
	}
	p := &allocPlane{conn: conn, client: bus.NewClient(conn, bus.Identity{Source: "user/test"}), alloc: alloc, stop: func() {}}
	t.Cleanup(func() {
		p.stop()
		conn.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if err := conn.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.store, _ = bus.NewStore(context.Background(), conn)
	p.restartService(t)
	for i := 0; ; i++ {
		_, err := p.do("namespace", "create", aggregates.Command{Name: "default", Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`)})
		if err == nil {
			break
		}
		if i > 100 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// restartService stops the command service, if one runs, and starts a new
// one, which knows nothing yet (as after a restart, or another replica),
// and waits until it answers.
func (p *allocPlane) restartService(t *testing.T) {
	t.Helper()
	p.startService(t)
	p.untilAnswered(t, "namespace", "label", aggregates.Command{Name: "none"}) // a refusal will do
}

// untilAnswered sends the command until a command service answers it.
func (p *allocPlane) untilAnswered(t *testing.T, kind, verb string, c aggregates.Command) (bus.Reply, error) {
	t.Helper()
	for i := 0; ; i++ {
		r, err := p.do(kind, verb, c)
		if err == nil || !strings.Contains(err.Error(), "nothing answers") {
			return r, err
		}
		if i > 100 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startService stops the command service, if one runs, and starts a new
// one, without waiting for it.
func (p *allocPlane) startService(t *testing.T) {
	t.Helper()
	p.stop()
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := service.New(ctx, p.conn, service.Options{Lanes: 8, Alloc: p.alloc, Metrics: p.metrics})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if p.afterAnswer != nil {
		service.SetAfterAnswer(svc, p.afterAnswer)
	}
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	p.stop = func() { cancel(); <-done }
}

func (p *allocPlane) do(kind, verb string, cmd aggregates.Command) (bus.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.client.Do(ctx, kind, verb, cmd, bus.CommandMeta{WantObject: true}) // the tests read the allocations back
}

func (p *allocPlane) head(t *testing.T) uint64 {
	t.Helper()
	h, _, err := p.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// svcManifest is a service named name; spec is the JSON of its spec.
func svcManifest(name, spec string) []byte {
	return []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":%q},"spec":%s}`, name, spec))
}

func (p *allocPlane) apply(t *testing.T, verb, name, spec string) (*corev1.Service, bus.Reply, error) {
	t.Helper()
	r, err := p.do("service", verb, aggregates.Command{Namespace: "default", Name: name, Object: svcManifest(name, spec)})
	if err != nil {
		return nil, r, err
	}
	var svc corev1.Service
	if err := json.Unmarshal(r.Object, &svc); err != nil {
		t.Fatal(err)
	}
	return &svc, r, nil
}

func (p *allocPlane) mustApply(t *testing.T, verb, name, spec string) *corev1.Service {
	t.Helper()
	svc, _, err := p.apply(t, verb, name, spec)
	if err != nil {
		t.Fatalf("%s service %s: %v", verb, name, err)
	}
	return svc
}

const web = `{"selector":{"app":"web"},"ports":[{"port":80}]}`

func TestAllocation(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{LoadBalancerPool: []netip.Prefix{netip.MustParsePrefix("192.168.50.0/30")}})
	cidr := netip.MustParsePrefix("10.96.0.0/12")

	t.Run("an empty clusterIP gets one from the dynamic band", func(t *testing.T) {
		svc := p.mustApply(t, "apply", "web", web)
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil || !cidr.Contains(ip) || netip.MustParseAddr("10.96.1.0").Compare(ip) > 0 {
			t.Fatalf("clusterIP %q", svc.Spec.ClusterIP)
		}
		if len(svc.Spec.ClusterIPs) != 1 || svc.Spec.ClusterIPs[0] != svc.Spec.ClusterIP {
			t.Errorf("clusterIPs %v", svc.Spec.ClusterIPs)
		}
		again, r, err := p.apply(t, "apply", "web", web)
		if err != nil || !r.Unchanged || again.Spec.ClusterIP != svc.Spec.ClusterIP {
			t.Errorf("re-apply: %v unchanged=%v ip %s", err, r.Unchanged, again.Spec.ClusterIP)
		}
	})
	t.Run("a requested clusterIP is held; another service asking is refused, stream unchanged", func(t *testing.T) {
		p.mustApply(t, "create", "dns", `{"clusterIP":"10.96.0.10","selector":{"app":"dns"},"ports":[{"port":53,"protocol":"UDP"}]}`)
		before := p.head(t)
		_, _, err := p.apply(t, "create", "other", `{"clusterIP":"10.96.0.10","ports":[{"port":80}]}`)
		want := `Service "other" is invalid: spec.clusterIP: Invalid value: "10.96.0.10": provided IP is already allocated`
		if !apierrors.IsInvalid(err) || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
		if after := p.head(t); after != before {
			t.Errorf("stream moved from %d to %d", before, after)
		}
	})
	t.Run("node ports: allocated, requested, taken refused, out of range refused", func(t *testing.T) {
		svc := p.mustApply(t, "create", "np", `{"type":"NodePort","ports":[{"name":"a","port":80,"nodePort":30080},{"name":"b","port":81}]}`)
		if svc.Spec.Ports[0].NodePort != 30080 || svc.Spec.Ports[1].NodePort < 30000 || svc.Spec.Ports[1].NodePort > 32767 {
			t.Fatalf("node ports %d %d", svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort)
		}
		before := p.head(t)
		_, _, err := p.apply(t, "create", "np2", `{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}`)
		want := `Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated`
		if !apierrors.IsInvalid(err) || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
		_, _, err = p.apply(t, "create", "np3", `{"type":"NodePort","ports":[{"port":80,"nodePort":20000}]}`)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided port is not in the valid range") {
			t.Fatalf("out of range: %v", err)
		}
		if after := p.head(t); after != before {
			t.Errorf("stream moved from %d to %d", before, after)
		}
		again := p.mustApply(t, "apply", "np", `{"type":"NodePort","ports":[{"name":"a","port":80,"nodePort":30080},{"name":"b","port":81}]}`)
		if again.Spec.Ports[1].NodePort != svc.Spec.Ports[1].NodePort {
			t.Errorf("re-apply moved port b from %d to %d", svc.Spec.Ports[1].NodePort, again.Spec.Ports[1].NodePort)
		}
	})
	t.Run("delete frees the clusterIP and node ports", func(t *testing.T) {
		if _, err := p.do("service", "delete", aggregates.Command{Namespace: "default", Name: "dns"}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.do("service", "delete", aggregates.Command{Namespace: "default", Name: "np"}); err != nil {
			t.Fatal(err)
		}
		p.mustApply(t, "create", "other", `{"clusterIP":"10.96.0.10","ports":[{"port":80}]}`)
		p.mustApply(t, "create", "np2", `{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}`)
	})
	t.Run("changing the type to ClusterIP frees node ports", func(t *testing.T) {
		p.mustApply(t, "update", "np2", `{"type":"ClusterIP","ports":[{"port":80}]}`)
		p.mustApply(t, "create", "np4", `{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}`)
	})
	t.Run("headless and ExternalName get no IP", func(t *testing.T) {
		h := p.mustApply(t, "create", "headless", `{"clusterIP":"None","selector":{"app":"db"},"ports":[{"port":5432}]}`)
		x := p.mustApply(t, "create", "ext", `{"type":"ExternalName","externalName":"example.com"}`)
		if h.Spec.ClusterIP != "None" || x.Spec.ClusterIP != "" {
			t.Errorf("headless %q, external name %q", h.Spec.ClusterIP, x.Spec.ClusterIP)
		}
	})
	t.Run("LoadBalancer gets node ports and a pool address in status", func(t *testing.T) {
		lb := p.mustApply(t, "create", "lb", `{"type":"LoadBalancer","ports":[{"port":443}]}`)
		ing := lb.Status.LoadBalancer.Ingress
		if len(ing) != 1 || !netip.MustParsePrefix("192.168.50.0/30").Contains(netip.MustParseAddr(ing[0].IP)) || lb.Spec.Ports[0].NodePort == 0 {
			t.Fatalf("lb status %+v ports %+v", lb.Status, lb.Spec.Ports)
		}
		again := p.mustApply(t, "apply", "lb", `{"type":"LoadBalancer","ports":[{"port":443}]}`)
		if len(again.Status.LoadBalancer.Ingress) != 1 || again.Status.LoadBalancer.Ingress[0].IP != ing[0].IP {
			t.Errorf("re-apply changed the lb address: %+v", again.Status.LoadBalancer)
		}
		back := p.mustApply(t, "update", "lb", `{"type":"ClusterIP","ports":[{"port":443}]}`)
		if len(back.Status.LoadBalancer.Ingress) != 0 {
			t.Errorf("ClusterIP kept lb status %+v", back.Status.LoadBalancer)
		}
	})
	t.Run("patch keeps allocations", func(t *testing.T) {
		r, err := p.do("service", "patch", aggregates.Command{Namespace: "default", Name: "np4", Patch: []byte(`{"spec":{"ports":[{"port":8080}]}}`)})
		if err != nil {
			t.Fatal(err)
		}
		var svc corev1.Service
		_ = json.Unmarshal(r.Object, &svc)
		if svc.Spec.Ports[0].NodePort == 0 || svc.Spec.ClusterIP == "" {
			t.Errorf("after patch: %+v", svc.Spec)
		}
	})
}

func TestAllocationRace(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{})
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("racer-%d", i)
			_, _, errs[i] = p.apply(t, "create", name, `{"type":"NodePort","clusterIP":"10.96.0.50","ports":[{"port":80,"nodePort":31000}]}`)
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "already allocated"):
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d services got 10.96.0.50, want exactly 1", won)
	}
}

func TestAllocationFillsSmallRange(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{ServiceCIDR: netip.MustParsePrefix("10.97.0.0/29")})
	seen := map[string]bool{}
	for i := range 6 { // /29: 8 addresses, 6 usable
		svc := p.mustApply(t, "create", fmt.Sprintf("s%d", i), web)
		if seen[svc.Spec.ClusterIP] {
			t.Fatalf("%s given twice", svc.Spec.ClusterIP)
		}
		seen[svc.Spec.ClusterIP] = true
	}
	_, _, err := p.apply(t, "create", "s6", web)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "range is full") {
		t.Fatalf("7th: %v", err)
	}
}
