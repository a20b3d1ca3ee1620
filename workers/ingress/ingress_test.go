package ingress_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections/projtest"
	"github.com/gantry-sh/gantry/workers/ingress"
)

// backend answers "<name> <host> <path> xff=<> xfp=<> xfh=<>" and counts
// the connections it accepted.
type backend struct {
	srv   *httptest.Server
	conns atomic.Int32
}

func startBackend(t *testing.T, name, addr string) *backend {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		fmt.Fprintf(w, "%s %s %s xff=%s xfp=%s xfh=%s", name, r.Host, r.URL.Path,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"))
	}))
	b.srv.Listener.Close()
	b.srv.Listener = l
	b.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) hostPort() (string, int32) {
	a := b.srv.Listener.Addr().(*net.TCPAddr)
	return a.IP.String(), int32(a.Port)
}

func service(name string) *corev1.Service {
	return &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
}

func slice(svc string, port int32, ready bool, ips ...string) *discoveryv1.EndpointSlice {
	name, proto := "http", corev1.ProtocolTCP
	es := &discoveryv1.EndpointSlice{TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  metav1.ObjectMeta{Name: svc + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &port}}}
	for _, ip := range ips {
		r := ready
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &r}})
	}
	return es
}

func path(p string, pt networkingv1.PathType, svc string) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: p, PathType: &pt,
		Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) networkingv1.IngressRule {
	return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}
}

func ingressObj(name, class string, rules ...networkingv1.IngressRule) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: rules}}
	return ing
}

// testCA makes a CA and a certificate for hosts signed by it.
func testCA(t *testing.T, hosts ...string) (pool *x509.CertPool, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gantry test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return pool, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func TestIngressRoutesHostsPathsAndTLS(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	a1 := startBackend(t, "a", "127.0.0.1:0")
	_, port := a1.hostPort()
	a2 := startBackend(t, "a", fmt.Sprintf("127.0.0.2:%d", port)) // same port, second endpoint
	b := startBackend(t, "b", "127.0.0.1:0")
	_, bport := b.hostPort()
	c.Apply("service", "default", "svc-a", service("svc-a"))
	c.Apply("service", "default", "svc-b", service("svc-b"))
	c.Apply("endpointslice", "default", "svc-a-1", slice("svc-a", port, true, "127.0.0.1", "127.0.0.2"))
	c.Apply("endpointslice", "default", "svc-b-1", slice("svc-b", bport, true, "127.0.0.1"))
	pool, certPEM, keyPEM := testCA(t, "a.example.test")
	c.Apply("secret", "default", "a-tls", &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "a-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}})
	ing := ingressObj("web", "gantry",
		rule("a.example.test", path("/", networkingv1.PathTypePrefix, "svc-a"), path("/api", networkingv1.PathTypePrefix, "svc-b"),
			path("/exact", networkingv1.PathTypeExact, "svc-b")),
		rule("b.example.test", path("/", networkingv1.PathTypePrefix, "svc-b")))
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"a.example.test"}, SecretName: "a-tls"}}
	ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "svc-b", Port: networkingv1.ServiceBackendPort{Name: "http"}}}
	c.Apply("ingress", "default", "web", ing)
	c.Apply("ingress", "default", "not-ours", ingressObj("not-ours", "nginx", rule("c.example.test", path("/", networkingv1.PathTypePrefix, "svc-a"))))

	addrs := make(chan [2]string, 1)
	w := ingress.NewWorker(c.View, ingress.Options{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", CaughtUp: c.CaughtUp,
		Ready: func(h, s string) { addrs <- [2]string{h, s} }, Sender: bus.NewClient(c.Conn, bus.Identity{Source: ingress.Source}), StatusAddress: "127.0.0.1"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	var ad [2]string
	select {
	case ad = <-addrs:
	case <-time.After(10 * time.Second):
		t.Fatal("ingress not ready")
	}
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "https") || strings.HasSuffix(addr, ":443") {
				return dialer.DialContext(ctx, network, ad[1])
			}
			return dialer.DialContext(ctx, network, ad[0])
		},
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	tests := []struct{ url, want string }{
		{"http://a.example.test/", "a a.example.test / "},
		{"http://a.example.test/api/users", "b a.example.test /api/users "},
		{"http://a.example.test/api", "b a.example.test /api "},
		{"http://a.example.test/apix", "a a.example.test /apix "},
		{"http://a.example.test/exact", "b a.example.test /exact "},
		{"http://a.example.test/exact/more", "a a.example.test /exact/more "},
		{"http://b.example.test/anything", "b b.example.test /anything "},
		{"http://unknown.test/x", "b unknown.test /x "},     // default backend
		{"http://c.example.test/x", "b c.example.test /x "}, // other class ignored: default backend
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			code, body := get(tt.url)
			if code != 200 || !strings.HasPrefix(body, tt.want) {
				t.Errorf("%d %q, want prefix %q", code, body, tt.want)
			}
		})
	}
	t.Run("X-Forwarded headers", func(t *testing.T) {
		_, body := get("http://a.example.test/api")
		if !strings.HasSuffix(body, "xff=127.0.0.1 xfp=http xfh=a.example.test") {
			t.Errorf("headers: %q", body)
		}
	})
	t.Run("TLS by SNI, verified against the test CA", func(t *testing.T) {
		resp, err := client.Get("https://a.example.test/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "a.example.test" ||
			!strings.HasPrefix(string(body), "a a.example.test / ") || !strings.HasSuffix(string(body), "xfp=https xfh=a.example.test") {
			t.Errorf("https: %q", body)
		}
	})
	t.Run("round robin over endpoints, keep-alive pool", func(t *testing.T) {
		before := a1.conns.Load() + a2.conns.Load()
		for range 40 {
			get("http://a.example.test/")
		}
		n1, n2 := a1.conns.Load(), a2.conns.Load()
		if n1 == 0 || n2 == 0 {
			t.Errorf("connections a1=%d a2=%d: want both used", n1, n2)
		}
		if opened := n1 + n2 - before; opened > 2 {
			t.Errorf("40 requests opened %d backend connections, want at most 2 (pooled)", opened)
		}
	})
	t.Run("reload keeps requests in flight", func(t *testing.T) {
		type res struct {
			code int
			body string
		}
		got := make(chan res, 1)
		go func() {
			resp, err := client.Get("http://a.example.test/slow")
			if err != nil {
				got <- res{body: err.Error()}
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got <- res{resp.StatusCode, string(body)}
		}()
		time.Sleep(100 * time.Millisecond)
		ing.Spec.Rules = append(ing.Spec.Rules, rule("d.example.test", path("/", networkingv1.PathTypePrefix, "svc-a")))
		c.Apply("ingress", "default", "web", ing)
		projtest.Eventually(t, 5*time.Second, "route to d", func() bool {
			_, body := get("http://d.example.test/")
			return strings.HasPrefix(body, "a ")
		})
		r := <-got
		if r.code != 200 || !strings.HasPrefix(r.body, "a a.example.test /slow") {
			t.Errorf("in-flight request: %d %q", r.code, r.body)
		}
	})
	t.Run("no ready endpoints: 503", func(t *testing.T) {
		c.Apply("endpointslice", "default", "svc-b-1", slice("svc-b", bport, false, "127.0.0.1"))
		projtest.Eventually(t, 5*time.Second, "503", func() bool { code, _ := get("http://b.example.test/"); return code == 503 })
	})
	t.Run("status shows the router address", func(t *testing.T) {
		projtest.Eventually(t, 5*time.Second, "ingress status", func() bool {
			e, _ := c.View.Get("ingress", "default", "web")
			var got networkingv1.Ingress
			_ = json.Unmarshal(e.Raw, &got)
			return len(got.Status.LoadBalancer.Ingress) == 1 && got.Status.LoadBalancer.Ingress[0].IP == "127.0.0.1"
		})
		e, _ := c.View.Get("ingress", "default", "not-ours")
		if strings.Contains(string(e.Raw), "loadBalancer\":{\"ingress") {
			t.Errorf("status set on another class's ingress: %s", e.Raw)
		}
	})
}
