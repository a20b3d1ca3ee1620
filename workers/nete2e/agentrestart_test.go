package nete2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/agentd/cni"
	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// nodeAgent is the node agent of an env that a test can stop and start
// again: every start builds a new CNI network, runtime and agent on the
// same data dir and containerd namespace, as a restarted process would.
type nodeAgent struct {
	e      *env
	dir    string
	cancel context.CancelFunc
	done   chan error
}

// newEnvWithNodeAgent is newEnv with a restartable agent: the same
// bridge, control plane, workers and proxy, in the same cleanup order.
func newEnvWithNodeAgent(t *testing.T, ns string) (*env, *nodeAgent) {
	t.Helper()
	needsNode(t)
	setupBridge(t)
	t.Cleanup(removeTables)
	e := &env{t: t, ns: ns, c: projtest.Start(t, projtest.Options{
		Alloc: service.AllocConfig{ServiceCIDR: netip.MustParsePrefix(serviceCIDR)}})}
	e.c.View.OnChange(e.changed)
	e.startWorkers()
	e.proxy = e.startProxy()
	e.ctrNS = fmt.Sprintf("gantry-nete2e-%d", os.Getpid())
	na := &nodeAgent{e: e, dir: t.TempDir()}
	t.Cleanup(func() {
		na.stop()
		if e.rt != nil {
			e.removePods()
		}
	})
	na.start()
	e.c.MustDo("namespace", "create", aggregates.Command{Name: ns,
		Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + ns + `"}}`)})
	return e, na
}

// start runs a new agent on the node's data dir and waits until it is
// ready (registered, every pod bound here taken in hand or adopted).
func (na *nodeAgent) start() {
	e := na.e
	e.t.Helper()
	var err error
	e.net, err = cni.New(cni.Config{Name: "gantry-nete2e", Bridge: bridge, Subnet: podCIDR,
		DataDir: filepath.Join(na.dir, "cni"), NetnsDir: filepath.Join(na.dir, "netns"), NetnsPrefix: "gantry-nete2e-"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.rt, err = runtime.New(runtime.Options{Client: daemon.Client, Namespace: e.ctrNS, DataDir: filepath.Join(na.dir, "agent"), Network: e.net})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := agent.New(e.c.Conn, e.rt, agent.Config{
		NodeName: nodeName, PodCIDR: podCIDR, NodeIP: gateway, ClusterDNS: []string{gateway},
		LeaseInterval: time.Second, MetricsInterval: 5 * time.Second, ResyncInterval: time.Second,
		Backoff: agent.Backoff{Base: 300 * time.Millisecond, Max: 2 * time.Second},
		Log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	na.cancel, na.done = cancel, make(chan error, 1)
	go func() { na.done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-na.done:
		na.cancel = nil
		e.t.Fatalf("agent stopped: %v", err)
	case <-time.After(30 * time.Second):
		e.t.Fatal("agent not ready within 30s")
	}
}

// stop ends the agent's Run as a stopped process would: pods stay up.
func (na *nodeAgent) stop() {
	if na.cancel == nil {
		return
	}
	na.cancel()
	na.cancel = nil
	select {
	case err := <-na.done:
		if err != nil {
			na.e.t.Errorf("agent: %v", err)
		}
	case <-time.After(30 * time.Second):
		na.e.t.Error("agent did not stop within 30s")
	}
}

// containerState is what an adopted pod must keep.
type containerState struct {
	uid, ip, containerID string
	restarts             int32
	started              time.Time
}

func stateOf(p *corev1.Pod) containerState {
	s := containerState{uid: string(p.UID), ip: p.Status.PodIP}
	for _, c := range p.Status.ContainerStatuses {
		s.containerID, s.restarts = c.ContainerID, c.RestartCount
		if c.State.Running != nil {
			s.started = c.State.Running.StartedAt.Time
		}
	}
	return s
}

// TestAgentRestartKeepsConnections: long-lived connections from a client
// pod through a ClusterIP to the pods of the node survive the agent
// stopping and a new agent starting on the same data dir and containerd
// namespace; the new agent adopts the pods (same IPs, same containers, no
// restart) and new connections through the VIP work after it.
func TestAgentRestartKeepsConnections(t *testing.T) {
	e, node := newEnvWithNodeAgent(t, "agentrestart")
	e.apply("deployment", echoDeployment(2))
	e.apply("service", echoService)
	e.apply("pod", clientPod("client"))
	echoPods := e.waitReady("echo", 2, 90*time.Second)
	client := e.waitPodReady("client", 60*time.Second)
	e.waitFor(20*time.Second, "2 ready echo endpoints", func() bool { return len(e.readyEndpoints("echo")) == 2 })
	vip := e.service("echo").Spec.ClusterIP + ":7000"
	before := map[string]containerState{"client": stateOf(client)}
	for name, p := range echoPods {
		before[name] = stateOf(p)
	}

	conns := openEchoConns(t, e, client, vip, 2)
	for i, ec := range conns {
		if err := ec.roundTrip(fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatalf("connection %d to %s before the restart: %v", i, ec.pod, err)
		}
	}

	// From the stop on: the service's ready endpoints as its slices
	// change, and how long fewer than 2 were ready.
	var mu sync.Mutex
	minReady, sliceChanges := 2, 0
	var lowSince time.Time
	var lowFor time.Duration
	e.watch(func(ch projections.Change) {
		if ch.Namespace != e.ns || ch.Kind != "endpointslice" {
			return
		}
		var es discoveryv1.EndpointSlice
		if json.Unmarshal(ch.Raw, &es) != nil || es.Labels[discoveryv1.LabelServiceName] != "echo" {
			return
		}
		ready := 0
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready++
			}
		}
		mu.Lock()
		defer mu.Unlock()
		sliceChanges++
		minReady = min(minReady, ready)
		switch {
		case ready < 2 && lowSince.IsZero():
			lowSince = time.Now()
		case ready == 2 && !lowSince.IsZero():
			lowFor += time.Since(lowSince)
			lowSince = time.Time{}
		}
	})

	// The agent stays down for 2s, long enough for several lease
	// renewals and probe periods to be missed; the connections are used
	// throughout.
	downAt := time.Now()
	node.stop()
	for i := 0; i < 4; i++ {
		for j, ec := range conns {
			if err := ec.roundTrip(fmt.Sprintf("down-%d-%d", i, j)); err != nil {
				t.Fatalf("connection %d to %s while the agent is down: %v", j, ec.pod, err)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	startAt := time.Now()
	node.start()
	readyIn := time.Since(startAt)
	t.Logf("agent down %s (connections used 4 times meanwhile); the new agent ready (pods adopted) %s after its start",
		startAt.Sub(downAt).Round(time.Millisecond), readyIn.Round(time.Millisecond))

	t.Run("established connections survive", func(t *testing.T) {
		for i, ec := range conns {
			if err := ec.roundTrip(fmt.Sprintf("after-%d", i)); err != nil {
				t.Errorf("connection %d to %s broke across the agent restart: %v", i, ec.pod, err)
			}
		}
		t.Logf("%d of %d connections echo after the restart", len(conns), len(conns))
	})

	t.Run("pods adopted: same IPs, same containers, no restart", func(t *testing.T) {
		defer e.use(t)()
		// Give the new agent's first probes and status reports a moment
		// to land before comparing (bounded by the wait below).
		e.waitFor(10*time.Second, "echo pods ready after the restart", func() bool {
			return len(e.readyEndpoints("echo")) == 2 && isReady(e.pod("client"))
		})
		for name, was := range before {
			p := e.pod(name)
			if p == nil {
				t.Errorf("%s gone after the restart", name)
				continue
			}
			if now := stateOf(p); now != was {
				t.Errorf("%s changed across the restart:\nbefore %+v\nafter  %+v", name, was, now)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pods, err := e.rt.ListPods(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pods) != len(before) {
			t.Errorf("runtime lists %d pods after the restart, want %d", len(pods), len(before))
		}
		for _, p := range pods {
			if was, ok := before[p.Name]; !ok || p.IP != was.ip {
				t.Errorf("runtime pod %s at %s after the restart (before: %+v)", p.Name, p.IP, was)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		t.Logf("%d pods kept IPs and containers (restarts 0)", len(before))
		// An adopted container keeps the readiness last reported for it
		// (as kubelet keeps it), so no endpoint drops while the agent
		// restarts.
		if !lowSince.IsZero() {
			lowFor += time.Since(lowSince)
		}
		t.Logf("while restarting: %d echo slice updates, fewest ready endpoints %d of 2, fewer than 2 ready for %s",
			sliceChanges, minReady, lowFor.Round(time.Millisecond))
		if minReady < 2 {
			t.Errorf("an agent restart dropped ready endpoints to %d of 2 for %s", minReady, lowFor.Round(time.Millisecond))
		}
	})

	t.Run("new connections through the VIP", func(t *testing.T) {
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
		if fresh["fail"] != 0 || len(fresh) != 2 {
			t.Errorf("new connections after the restart: %v, want both echo pods and no failure", fresh)
		}
	})
}

// openEchoConns opens connections from client through vip until each of
// want backends holds at least two (at most 40 connections, 300 tries).
func openEchoConns(t *testing.T, e *env, client *corev1.Pod, vip string, want int) []*echoConn {
	t.Helper()
	var conns []*echoConn
	t.Cleanup(func() {
		for _, ec := range conns {
			ec.c.Close()
		}
	})
	per := map[string]int{}
	start := time.Now()
	for i := 0; i < 300 && len(conns) < 40 && fewest(per, want) < 2; i++ {
		c, err := e.dialFromPod(client, vip)
		if err != nil && len(conns) == 0 && time.Since(start) < 5*time.Second {
			time.Sleep(20 * time.Millisecond) // the proxy may not have written the endpoints yet
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
	if len(per) != want {
		t.Fatalf("connections reached %v, want %d echo pods", per, want)
	}
	t.Logf("%d connections through %s: %v", len(conns), vip, per)
	return conns
}
