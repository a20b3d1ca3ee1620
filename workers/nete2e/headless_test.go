package nete2e

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func headlessService(name, app string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  clusterIP: None
  selector: {app: %s}
  ports: [{name: http, port: 80, targetPort: http}]
`, name, app)
}

// statefulPod is a pod as a StatefulSet makes it: hostname and subdomain
// set, the subdomain naming the headless service.
func statefulPod(name, svc string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s, labels: {app: %[2]s}}
spec:
  nodeName: %[3]s
  hostname: %[1]s
  subdomain: %[2]s
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: %[4]s
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/name && echo ok > /www/ready && exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080, name: http}]
    readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1}
`, name, svc, nodeName, image)
}

// lookupA asks the DNS worker on the node for name's A records, sorted;
// nil on NXDOMAIN or error.
func lookupA(name string) ([]string, int, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	cl := &mdns.Client{Timeout: time.Second}
	r, _, err := cl.Exchange(m, net.JoinHostPort(gateway, "53"))
	if err != nil {
		return nil, -1, err
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return out, r.Rcode, nil
}

// TestHeadlessDNSAndReadiness: a headless service answers with every
// ready pod IP, StatefulSet-style pods resolve by hostname, and a failing
// readiness probe takes a pod out of the endpoints and the DNS answer.
func TestHeadlessDNSAndReadiness(t *testing.T) {
	e := newEnv(t, "data")
	e.apply("deployment", webDeployment("web", 3))
	e.apply("service", headlessService("web-hl", "web"))
	e.apply("service", headlessService("db", "db"))
	e.apply("pod", statefulPod("db-0", "db"))
	e.apply("pod", statefulPod("db-1", "db"))
	e.apply("pod", clientPod("client"))
	pods := e.waitReady("web", 3, 90*time.Second)
	e.waitReady("db", 2, 60*time.Second)
	e.waitPodReady("client", 60*time.Second)
	if ip := e.service("web-hl").Spec.ClusterIP; ip != "None" {
		t.Fatalf("headless service got clusterIP %q", ip)
	}
	var podIPs []string
	for _, p := range pods {
		podIPs = append(podIPs, p.Status.PodIP)
	}
	sort.Strings(podIPs)
	name := "web-hl.data.svc.cluster.local"

	t.Run("headless service answers every ready pod IP", func(t *testing.T) {
		defer e.use(t)()
		var got []string
		e.waitFor(20*time.Second, name+" to answer the 3 pod IPs", func() bool {
			got, _, _ = lookupA(name)
			return slices.Equal(got, podIPs)
		})
		t.Logf("%s A %v", name, got)
	})

	t.Run("StatefulSet pod names resolve", func(t *testing.T) {
		defer e.use(t)()
		for _, p := range []string{"db-0", "db-1"} {
			fqdn := p + ".db.data.svc.cluster.local"
			want := e.pod(p).Status.PodIP
			var got []string
			e.waitFor(20*time.Second, fqdn, func() bool {
				got, _, _ = lookupA(fqdn)
				return slices.Equal(got, []string{want})
			})
			// From inside a pod, by the short name through its resolv.conf
			// search path (glibc's resolver in wget; busybox nslookup
			// does not search), to the pod itself.
			out := e.mustExec("client", "client", "timeout 5 wget -qO- http://"+p+".db:8080/name")
			if strings.TrimSpace(out) != p {
				t.Errorf("GET http://%s.db:8080/name in the client pod: %q, want %s", p, out, p)
			}
			t.Logf("%s A %v; in the client pod http://%s.db:8080/name answered %q", fqdn, got, p, strings.TrimSpace(out))
		}
		if _, rcode, err := lookupA("db-9.db.data.svc.cluster.local"); err != nil || rcode != mdns.RcodeNameError {
			t.Errorf("db-9: rcode %d, %v; want NXDOMAIN", rcode, err)
		}
	})

	t.Run("a failing readiness probe removes the pod from endpoints and DNS", func(t *testing.T) {
		defer e.use(t)()
		var victim, victimIP string
		for n, p := range pods {
			victim, victimIP = n, p.Status.PodIP
			break
		}
		start := time.Now()
		e.mustExec(victim, "web", "rm /www/ready")
		e.waitFor(20*time.Second, victim+" not ready in the endpoints", func() bool {
			ready, listed := e.endpoints("web-hl")[victimIP]
			return listed && !ready
		})
		outOfSlice := time.Since(start)
		var got []string
		e.waitFor(10*time.Second, victimIP+" out of the DNS answer", func() bool {
			got, _, _ = lookupA(name)
			return len(got) == 2 && !slices.Contains(got, victimIP)
		})
		outOfDNS := time.Since(start)
		t.Logf("readiness file removed in %s: listed not-ready after %s, out of the DNS answer after %s (now %v)",
			victim, outOfSlice.Round(time.Millisecond), outOfDNS.Round(time.Millisecond), got)

		start = time.Now()
		e.mustExec(victim, "web", "echo ok > /www/ready")
		e.waitFor(20*time.Second, victimIP+" back in the DNS answer", func() bool {
			got, _, _ = lookupA(name)
			return slices.Equal(got, podIPs)
		})
		t.Logf("readiness restored: back in the DNS answer after %s", time.Since(start).Round(time.Millisecond))
	})
}
