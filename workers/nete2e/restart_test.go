package nete2e

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/aggregates"
)

// echoDeployment: each connection to port 7000 gets the pod name as its
// first line, then its own bytes back.
func echoDeployment(replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: %d
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      nodeName: %s
      terminationGracePeriodSeconds: 1
      containers:
      - name: echo
        image: %s
        command: ["sh", "-c", "printf '#!/bin/sh\\nhostname\\nexec cat\\n' > /echo.sh && chmod +x /echo.sh && exec nc -ll -p 7000 -e /echo.sh"]
        ports: [{containerPort: 7000, name: echo}]
        readinessProbe: {tcpSocket: {port: echo}, periodSeconds: 1}
---
`, replicas, nodeName, image)
}

const echoService = `apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: echo, port: 7000, targetPort: echo}]
`

// echoConn is a long-lived connection through the VIP and the pod behind it.
type echoConn struct {
	c   net.Conn
	r   *bufio.Reader
	pod string
}

func (ec *echoConn) roundTrip(msg string) error {
	_ = ec.c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintln(ec.c, msg); err != nil {
		return err
	}
	got, err := ec.r.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(got) != msg {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// TestProxyRestartKeepsConnections: long-lived connections from a client
// pod through a ClusterIP keep working across a proxy restart; an endpoint
// removed while the proxy was down gets no new connection after it.
func TestProxyRestartKeepsConnections(t *testing.T) {
	e := newEnv(t, "conn")
	e.apply("deployment", echoDeployment(2))
	e.apply("service", echoService)
	e.apply("pod", clientPod("client"))
	e.waitReady("echo", 2, 90*time.Second)
	client := e.waitPodReady("client", 60*time.Second)
	e.waitFor(20*time.Second, "2 ready echo endpoints", func() bool { return len(e.readyEndpoints("echo")) == 2 })
	vip := e.service("echo").Spec.ClusterIP + ":7000"

	// Open connections until each backend holds at least two (bounded).
	var conns []*echoConn
	t.Cleanup(func() {
		for _, ec := range conns {
			ec.c.Close()
		}
	})
	per := map[string]int{}
	programmed := time.Now()
	for i := 0; i < 300 && len(conns) < 40 && fewest(per, 2) < 2; i++ {
		c, err := e.dialFromPod(client, vip)
		if err != nil && len(conns) == 0 && time.Since(programmed) < 5*time.Second {
			// The view has the endpoints; the proxy may not have
			// written them yet (a reject until then).
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("dial %s from the client pod: %v", vip, err)
		}
		r := bufio.NewReader(c)
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		name, err := r.ReadString('\n')
		if err != nil {
			c.Close()
			t.Fatalf("first line from %s: %v", vip, err)
		}
		ec := &echoConn{c: c, r: r, pod: strings.TrimSpace(name)}
		conns = append(conns, ec)
		per[ec.pod]++
	}
	if len(per) != 2 {
		t.Fatalf("connections reached %v, want both echo pods", per)
	}
	t.Logf("%d connections through %s: %v", len(conns), vip, per)
	for i, ec := range conns {
		if err := ec.roundTrip(fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatalf("connection %d to %s before the restart: %v", i, ec.pod, err)
		}
	}

	// The proxy goes down as a crash would (tables stay); one backend is
	// deleted while it is down; then it comes back.
	removed := conns[0].pod
	removedIP := e.pod(removed).Status.PodIP
	downAt := time.Now()
	e.proxy.stop()
	if out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput(); err != nil {
		t.Fatalf("tables gone while the proxy is down: %v %s", err, out)
	}
	for i, ec := range conns {
		if err := ec.roundTrip(fmt.Sprintf("down-%d", i)); err != nil {
			t.Fatalf("connection %d to %s while the proxy is down: %v", i, ec.pod, err)
		}
	}
	grace := int64(1)
	e.c.MustDo("pod", "delete", aggregates.Command{Namespace: e.ns, Name: removed, GracePeriodSeconds: &grace})
	e.waitFor(30*time.Second, removed+" gone and out of the endpoints", func() bool {
		_, listed := e.endpoints("echo")[removedIP]
		return e.pod(removed) == nil && !listed
	})
	e.waitReady("echo", 2, 60*time.Second) // the replacement
	e.proxy = e.startProxy()
	t.Logf("proxy down %s (restart: first sync done)", time.Since(downAt).Round(time.Millisecond))

	kept, broken := 0, 0
	for i, ec := range conns {
		err := ec.roundTrip(fmt.Sprintf("after-%d", i))
		switch {
		case ec.pod == removed:
			if err == nil {
				t.Errorf("connection %d to the deleted %s still echoes", i, removed)
			}
			broken++
		case err != nil:
			t.Errorf("connection %d to surviving %s broke across the proxy restart: %v", i, ec.pod, err)
		default:
			kept++
		}
	}
	t.Logf("after the restart: %d connections to surviving pods kept, %d to the deleted %s closed", kept, broken, removed)

	fresh := map[string]int{}
	for range 20 {
		c, err := e.dialFromPod(client, vip)
		if err != nil {
			fresh["fail"]++
			continue
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		name, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			fresh["fail"]++
			continue
		}
		fresh[strings.TrimSpace(name)]++
	}
	t.Logf("20 new connections after the restart: %v", fresh)
	if fresh[removed] != 0 || fresh["fail"] != 0 {
		t.Errorf("new connections after the restart: %v (deleted %s)", fresh, removed)
	}
}

// fewest is the smallest count in m over n keys (0 while m has fewer).
func fewest(m map[string]int, n int) int {
	if len(m) < n {
		return 0
	}
	low := -1
	for _, v := range m {
		if low < 0 || v < low {
			low = v
		}
	}
	return low
}
