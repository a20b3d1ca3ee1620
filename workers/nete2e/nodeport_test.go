package nete2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func nodePortService(name string, nodePort int) string {
	np := ""
	if nodePort != 0 {
		np = fmt.Sprintf(", nodePort: %d", nodePort)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http%s}]
`, name, np)
}

// nodeAddress is the InternalIP the agent registered for the node.
func (e *env) nodeAddress() string {
	e.t.Helper()
	en, ok := e.c.View.Get("node", "", nodeName)
	if !ok {
		e.t.Fatal("node not registered")
	}
	var n corev1.Node
	_ = json.Unmarshal(en.Raw, &n)
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	e.t.Fatalf("node has no InternalIP: %+v", n.Status.Addresses)
	return ""
}

// getFromHost sends n GETs from the test process (the host namespace, no
// pod) to url, one connection each, bounded in time, and counts bodies.
func getFromHost(url string, n int) map[string]int {
	cl := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	counts := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		resp, err := cl.Get(url)
		if err != nil {
			counts["fail"]++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		counts[strings.TrimSpace(string(b))]++
	}
	return counts
}

// TestNodePort: a NodePort service answers at the node's address from
// outside any pod; an explicit nodePort is honoured, a taken or
// out-of-range one refused.
func TestNodePort(t *testing.T) {
	e := newEnv(t, "edge")
	e.apply("deployment", webDeployment("web", 2))
	const explicit = 31080
	e.apply("service", nodePortService("web", explicit))
	pods := e.waitReady("web", 2, 90*time.Second)
	e.waitFor(20*time.Second, "2 ready endpoints", func() bool { return len(e.readyEndpoints("web")) == 2 })
	nodeIP := e.nodeAddress()
	if nodeIP != gateway {
		t.Fatalf("node InternalIP %s, want the bridge address %s", nodeIP, gateway)
	}

	t.Run("explicit nodePort honoured and reachable at the node's address", func(t *testing.T) {
		defer e.use(t)()
		svc := e.service("web")
		if got := svc.Spec.Ports[0].NodePort; got != explicit {
			t.Fatalf("nodePort %d, want %d", got, explicit)
		}
		url := fmt.Sprintf("http://%s:%d/name", nodeIP, explicit)
		e.waitFor(5*time.Second, "the proxy to program "+url, func() bool { return getFromHost(url, 1)["fail"] == 0 })
		counts := getFromHost(url, 60)
		t.Logf("60 GETs from the host to %s: %v", url, counts)
		if counts["fail"] != 0 {
			t.Errorf("%d requests failed", counts["fail"])
		}
		for name := range pods {
			if counts[name] == 0 {
				t.Errorf("%s got no request (%v)", name, counts)
			}
		}
	})

	t.Run("a taken nodePort is refused", func(t *testing.T) {
		defer e.use(t)()
		_, err := e.tryApply("service", nodePortService("web-copy", explicit))
		t.Logf("refusal: %v", err)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint(explicit)) {
			t.Fatalf("second service on nodePort %d: %v, want a refusal naming the port", explicit, err)
		}
		if _, ok := e.c.View.Get("service", e.ns, "web-copy"); ok {
			t.Error("the refused service exists")
		}
	})

	t.Run("an out-of-range nodePort is refused", func(t *testing.T) {
		defer e.use(t)()
		_, err := e.tryApply("service", nodePortService("web-low", 29999))
		t.Logf("refusal: %v", err)
		if err == nil || !strings.Contains(err.Error(), "29999") {
			t.Fatalf("nodePort 29999: %v, want a refusal naming the port", err)
		}
	})

	t.Run("an allocated nodePort answers too", func(t *testing.T) {
		defer e.use(t)()
		e.apply("service", nodePortService("web-auto", 0))
		np := e.service("web-auto").Spec.Ports[0].NodePort
		if np < 30000 || np > 32767 || np == explicit {
			t.Fatalf("allocated nodePort %d", np)
		}
		url := fmt.Sprintf("http://%s:%d/name", nodeIP, np)
		var counts map[string]int
		e.waitFor(10*time.Second, "the allocated node port to answer", func() bool {
			counts = getFromHost(url, 10)
			return counts["fail"] == 0
		})
		t.Logf("10 GETs to %s: %v", url, counts)
	})
}
