package nete2e

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
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/workers/ingress"
)

// cgiDeployment serves on port 8080 (named http) /name (the pod name),
// /ready, and the CGI scripts /cgi-bin/who and /cgi-bin/whoami, which
// answer "<pod> host=<Host> uri=<path> xff=<> xfp=<> xfh=<>" (busybox
// httpd hands every request header to CGI as HTTP_<NAME>).
func cgiDeployment(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      nodeName: %[3]s
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %[4]s
        command:
        - sh
        - -c
        - |
          mkdir -p /www/cgi-bin && hostname > /www/name && echo ok > /www/ready
          cat > /www/cgi-bin/who <<'EOF'
          #!/bin/sh
          printf 'Content-Type: text/plain\r\n\r\n'
          echo "$(hostname) host=$HTTP_HOST uri=$REQUEST_URI xff=$HTTP_X_FORWARDED_FOR xfp=$HTTP_X_FORWARDED_PROTO xfh=$HTTP_X_FORWARDED_HOST"
          EOF
          chmod +x /www/cgi-bin/who && cp /www/cgi-bin/who /www/cgi-bin/whoami
          exec httpd -f -p 8080 -h /www
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1, failureThreshold: 1}
`, name, replicas, nodeName, image)
}

// Two hosts; on a.nete2e.test three paths where the longest match wins:
// Prefix / (alpha) < Prefix /cgi-bin (beta) < Exact /cgi-bin/who (alpha,
// by the port's name). TLS for a.nete2e.test only.
const webIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: gantry
  tls: [{hosts: [a.nete2e.test], secretName: a-tls}]
  rules:
  - host: a.nete2e.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
      - {path: /cgi-bin, pathType: Prefix, backend: {service: {name: beta, port: {number: 80}}}}
      - {path: /cgi-bin/who, pathType: Exact, backend: {service: {name: alpha, port: {name: http}}}}
  - host: b.nete2e.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: beta, port: {number: 80}}}}
`

// TestIngressRoutesToPods: the ingress worker on 127.0.0.1 in front of
// real pods: two hosts and the paths of webIngress reach the ready
// endpoints of the right service, X-Forwarded-* reach the pods, TLS from
// a Secret is chosen by SNI and verifies against the test CA.
func TestIngressRoutesToPods(t *testing.T) {
	e := newEnv(t, "ingress")
	for name, replicas := range map[string]int{"alpha": 2, "beta": 1} {
		e.apply("deployment", cgiDeployment(name, replicas))
		e.apply("service", webService(name, name))
	}
	pool, certPEM, keyPEM := testCA(t, "a.nete2e.test")
	e.c.Apply("secret", e.ns, "a-tls", &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "a-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}})
	e.apply("ingress", webIngress)
	alpha, beta := e.waitReady("alpha", 2, 90*time.Second), e.waitReady("beta", 1, 90*time.Second)
	e.waitFor(20*time.Second, "ready endpoints of alpha and beta", func() bool {
		return len(e.readyEndpoints("alpha")) == 2 && len(e.readyEndpoints("beta")) == 1
	})
	owner := map[string]string{}
	for name := range alpha {
		owner[name] = "alpha"
	}
	for name := range beta {
		owner[name] = "beta"
	}

	httpAddr, httpsAddr := startIngress(t, e)
	client := ingressClient(t, httpAddr, httpsAddr, pool)
	get := func(url string) (int, string, *http.Response, error) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, "", nil, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, strings.TrimSpace(string(body)), resp, nil
	}
	// The router rebuilds its table from the view asynchronously: wait
	// (bounded) until both hosts answer from a pod.
	e.waitFor(10*time.Second, "the ingress routing both hosts", func() bool {
		_, a, _, errA := get("http://a.nete2e.test/name")
		_, b, _, errB := get("http://b.nete2e.test/name")
		return errA == nil && errB == nil && owner[a] == "alpha" && owner[b] == "beta"
	})

	t.Run("hosts and paths, longest match wins", func(t *testing.T) {
		for _, tt := range []struct{ url, svc string }{
			{"http://a.nete2e.test/name", "alpha"},           // Prefix /
			{"http://a.nete2e.test/cgi-bin/whoami", "beta"},  // Prefix /cgi-bin beats /
			{"http://a.nete2e.test/cgi-bin/who", "alpha"},    // Exact /cgi-bin/who beats Prefix /cgi-bin
			{"https://a.nete2e.test/cgi-bin/who", "alpha"},   // the same over TLS
			{"https://a.nete2e.test/cgi-bin/whoami", "beta"}, // the same over TLS
			{"http://b.nete2e.test/cgi-bin/who", "beta"},     // the other host
			{"http://b.nete2e.test/name", "beta"},
		} {
			code, body, _, err := get(tt.url)
			pod, _, _ := strings.Cut(body, " ")
			if err != nil || code != 200 || owner[pod] != tt.svc {
				t.Errorf("GET %s: %d %q %v, want a %s pod", tt.url, code, body, err, tt.svc)
				continue
			}
			t.Logf("GET %s → %s (%s)", tt.url, pod, tt.svc)
		}
		code, body, _, err := get("http://c.nete2e.test/name")
		if err != nil || code != 404 {
			t.Errorf("unknown host: %d %q %v, want 404 (no default backend)", code, body, err)
		}
	})

	t.Run("X-Forwarded-For, -Proto and -Host reach the pod", func(t *testing.T) {
		for _, tt := range []struct{ url, want string }{
			{"http://a.nete2e.test/cgi-bin/who", "host=a.nete2e.test uri=/cgi-bin/who xff=127.0.0.1 xfp=http xfh=a.nete2e.test"},
			{"https://a.nete2e.test/cgi-bin/whoami?q=1", "host=a.nete2e.test uri=/cgi-bin/whoami?q=1 xff=127.0.0.1 xfp=https xfh=a.nete2e.test"},
		} {
			_, body, _, err := get(tt.url)
			if _, rest, _ := strings.Cut(body, " "); err != nil || rest != tt.want {
				t.Errorf("GET %s: %q %v, want %q after the pod name", tt.url, body, err, tt.want)
				continue
			}
			t.Logf("GET %s: the pod saw %q", tt.url, body)
		}
	})

	t.Run("TLS by SNI from the Secret, verified against the test CA", func(t *testing.T) {
		_, _, resp, err := get("https://a.nete2e.test/name")
		if err != nil {
			t.Fatal(err)
		}
		cert := resp.TLS.PeerCertificates[0]
		if resp.TLS.ServerName != "a.nete2e.test" || cert.Subject.CommonName != "a.nete2e.test" {
			t.Errorf("SNI %q, certificate %q", resp.TLS.ServerName, cert.Subject.CommonName)
		}
		t.Logf("https://a.nete2e.test: certificate %q issued by %q, TLS 0x%04x", cert.Subject.CommonName, cert.Issuer.CommonName, resp.TLS.Version)
		// b.nete2e.test has no certificate: the router offers a.'s, and a
		// verifying client refuses it.
		_, _, _, err = get("https://b.nete2e.test/name")
		var hostErr x509.HostnameError
		if !errors.As(err, &hostErr) {
			t.Errorf("https://b.nete2e.test: %v, want a certificate name mismatch", err)
		}
	})

	t.Run("round robin over the ready endpoints", func(t *testing.T) {
		seen := map[string]int{}
		for range 20 {
			_, body, _, err := get("http://a.nete2e.test/name")
			if err != nil {
				body = "fail"
			}
			seen[body]++
		}
		t.Logf("20 GETs of a.nete2e.test/name: %v", seen)
		if len(seen) != 2 || seen["fail"] != 0 {
			t.Errorf("20 GETs: %v, want both alpha pods", seen)
		}
	})

	t.Run("status shows the router's address", func(t *testing.T) {
		defer e.use(t)()
		e.waitFor(10*time.Second, "ingress status 127.0.0.1", func() bool {
			en, ok := e.c.View.Get("ingress", e.ns, "web")
			var ing networkingv1.Ingress
			return ok && json.Unmarshal(en.Raw, &ing) == nil &&
				len(ing.Status.LoadBalancer.Ingress) == 1 && ing.Status.LoadBalancer.Ingress[0].IP == "127.0.0.1"
		})
	})
}

// startIngress runs the ingress worker on ports of 127.0.0.1 that the
// kernel picks, until cleanup; it returns the bound addresses.
func startIngress(t *testing.T, e *env) (httpAddr, httpsAddr string) {
	t.Helper()
	addrs := make(chan [2]string, 1)
	w := ingress.NewWorker(e.c.View, ingress.Options{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", CaughtUp: e.c.CaughtUp,
		Sender: e.client(ingress.Source), StatusAddress: "127.0.0.1",
		Ready: func(h, s string) { addrs <- [2]string{h, s} }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("ingress did not stop within 15s")
		}
	})
	select {
	case a := <-addrs:
		return a[0], a[1]
	case err := <-done:
		t.Fatalf("ingress stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("ingress not ready within 20s")
	}
	return "", ""
}

// ingressClient sends every http:// request to httpAddr and https:// to
// httpsAddr, keeping the URL's host for Host and SNI, and trusts only
// pool.
func ingressClient(t *testing.T, httpAddr, httpsAddr string, pool *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasSuffix(addr, ":443") {
				return dialer.DialContext(ctx, network, httpsAddr)
			}
			return dialer.DialContext(ctx, network, httpAddr)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// testCA makes a CA and a server certificate for hosts signed by it.
func testCA(t *testing.T, hosts ...string) (pool *x509.CertPool, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gantry nete2e test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return pool, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
