package nete2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
)

func webService(name, app string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  selector: {app: %s}
  ports: [{name: http, port: 80, targetPort: http}]
`, name, app)
}

// TestClusterIPDeployment: a Deployment of 3 web servers behind a
// ClusterIP service, reached by name from a client pod (pod resolv.conf →
// DNS worker → VIP → nftables DNAT through the host's nat hooks).
func TestClusterIPDeployment(t *testing.T) {
	e := newEnv(t, "shop")
	e.apply("deployment", webDeployment("web", 3))
	e.apply("service", webService("web", "web"))
	e.apply("pod", clientPod("client"))
	e.waitReady("web", 3, 90*time.Second)
	e.waitPodReady("client", 60*time.Second)
	e.waitFor(20*time.Second, "3 ready endpoints of web", func() bool { return len(e.readyEndpoints("web")) == 3 })
	vip := e.service("web").Spec.ClusterIP
	if !strings.HasPrefix(vip, "10.99.") {
		t.Fatalf("clusterIP %q not from %s", vip, serviceCIDR)
	}
	url := "http://web.shop.svc.cluster.local/name"
	// The view has the endpoints; wait (bounded) until the proxy has
	// written them before counting.
	e.mustExec("client", "client", "for i in $(seq 1 50); do timeout 2 wget -qO- "+url+" >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1")

	t.Run("300 requests by name reach all 3, none fewer than 50", func(t *testing.T) {
		defer e.use(t)()
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
		defer cancel()
		var out lineLog
		start := time.Now()
		code, err := e.exec(ctx, "client", "client", requestLoop(url, 300, "spread"), &out)
		took := time.Since(start)
		if err != nil || code != 0 {
			t.Fatalf("loop: code %d, %v", code, err)
		}
		counts := tally(out.snapshot())
		t.Logf("300 requests to %s (VIP %s) in %s: %v", url, vip, took.Round(time.Millisecond), counts)
		if counts["fail"] != 0 {
			t.Errorf("%d requests failed", counts["fail"])
		}
		for name := range e.pods("web") {
			if counts[name] < 50 {
				t.Errorf("%s got %d of 300 (%v)", name, counts[name], counts)
			}
		}
	})

	t.Run("scale to 5: new pods get traffic within 5s of being ready", func(t *testing.T) {
		defer e.use(t)()
		old := e.pods("web")
		var mu sync.Mutex
		readyAt, firstSeen := map[string]time.Time{}, map[string]time.Time{}
		e.watch(func(ch projections.Change) {
			if ch.Kind != "pod" || ch.Namespace != e.ns || ch.Deleted {
				return
			}
			p := e.pod(ch.Name)
			if _, was := old[ch.Name]; was || p == nil || p.Labels["app"] != "web" || !isReady(p) {
				return
			}
			mu.Lock()
			if _, ok := readyAt[ch.Name]; !ok {
				readyAt[ch.Name] = time.Now()
			}
			mu.Unlock()
		})
		l := e.startLoop("client", url, 3000, 120*time.Second, "scale", func(ln line) {
			name, ok := strings.CutPrefix(ln.text, "ok ")
			if !ok {
				return
			}
			mu.Lock()
			if _, seen := firstSeen[name]; !seen {
				firstSeen[name] = ln.at
			}
			mu.Unlock()
		})
		five := int32(5)
		scaledAt := time.Now()
		e.c.MustDo("deployment", "scale", aggregates.Command{Namespace: e.ns, Name: "web", Replicas: &five})
		now := e.waitReady("web", 5, 60*time.Second)
		var fresh []string
		for name := range now {
			if _, was := old[name]; !was {
				fresh = append(fresh, name)
			}
		}
		sort.Strings(fresh)
		e.waitFor(20*time.Second, "traffic to the new pods", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, name := range fresh {
				if _, ok := firstSeen[name]; !ok {
					return false
				}
			}
			return true
		})
		l.stop()
		mu.Lock()
		defer mu.Unlock()
		for _, name := range fresh {
			ready, seen := readyAt[name], firstSeen[name]
			if ready.IsZero() {
				t.Errorf("%s: readiness never observed", name)
				continue
			}
			lag := seen.Sub(ready)
			t.Logf("%s: first response %s after the view showed it ready", name, lag.Round(time.Millisecond))
			if lag > 5*time.Second {
				t.Errorf("%s got its first request %s after being ready (> 5s)", name, lag)
			}
		}
		counts := tally(l.out.snapshot())
		gap, gapEnd := maxGap(l.out.snapshot())
		t.Logf("while scaling: %v; longest wait between two responses %s (ended %s after scaling)", counts, gap.Round(time.Millisecond), gapEnd.Sub(scaledAt).Round(time.Millisecond))
		if counts["fail"] != 0 {
			t.Errorf("%d requests failed while scaling up", counts["fail"])
		}
	})

	t.Run("delete one pod while a client loops: no failure once it is out of the endpoints", func(t *testing.T) {
		defer e.use(t)()
		pods := e.pods("web")
		var victim, victimIP string
		for name, p := range pods {
			victim, victimIP = name, p.Status.PodIP
			break
		}
		var mu sync.Mutex
		var outAt time.Time
		e.watch(func(ch projections.Change) {
			if ch.Kind != "endpointslice" || ch.Namespace != e.ns {
				return
			}
			var es discoveryv1.EndpointSlice
			if json.Unmarshal(ch.Raw, &es) != nil || es.Labels[discoveryv1.LabelServiceName] != "web" {
				return
			}
			for _, ep := range es.Endpoints {
				if len(ep.Addresses) > 0 && ep.Addresses[0] == victimIP && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
					return
				}
			}
			mu.Lock()
			if outAt.IsZero() {
				outAt = time.Now()
			}
			mu.Unlock()
		})
		l := e.startLoop("client", url, 3000, 120*time.Second, "delete", nil)
		e.waitFor(20*time.Second, "the loop to answer 20 requests", func() bool { return len(l.out.snapshot()) >= 20 })
		grace := int64(3)
		deletedAt := time.Now()
		e.c.MustDo("pod", "delete", aggregates.Command{Namespace: e.ns, Name: victim, GracePeriodSeconds: &grace})
		e.waitFor(60*time.Second, victim+" gone", func() bool { return e.pod(victim) == nil })
		goneAt := time.Now()
		e.waitReady("web", 5, 60*time.Second) // the replacement
		n := len(l.out.snapshot())
		e.waitFor(20*time.Second, "50 more requests", func() bool { return len(l.out.snapshot()) >= n+50 })
		l.stop()

		mu.Lock()
		out := outAt
		mu.Unlock()
		if out.IsZero() {
			t.Fatalf("%s (%s) never left the endpoints", victim, victimIP)
		}
		lines := l.out.snapshot()
		var failsBefore, failsAfter, victimAfter, after int
		for i, ln := range lines {
			if !strings.HasPrefix(ln.text, "ok ") && ln.text != "fail" {
				continue
			}
			// A request started when the line before it arrived.
			startedAfter := i > 0 && !lines[i-1].at.Before(out)
			switch {
			case ln.text == "fail" && startedAfter:
				failsAfter++
			case ln.text == "fail":
				failsBefore++
			}
			if startedAfter {
				after++
				if ln.text == "ok "+victim {
					victimAfter++
				}
			}
		}
		t.Logf("deleted %s (%s): out of the endpoints %s after the delete, gone %s after; %d requests in all, %d started after it left: %d failed (%d failed before), %d answered by %s",
			victim, victimIP, out.Sub(deletedAt).Round(time.Millisecond), goneAt.Sub(deletedAt).Round(time.Millisecond),
			len(lines), after, failsAfter, failsBefore, victimAfter, victim)
		if failsAfter != 0 {
			t.Errorf("%d requests started after %s left the endpoints failed", failsAfter, victim)
		}
		if after < 50 {
			t.Errorf("only %d requests after the pod left the endpoints", after)
		}
	})
}
