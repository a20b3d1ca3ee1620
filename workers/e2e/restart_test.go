package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projtest"
	"github.com/gantry-sh/gantry/workers/controllers/daemonset"
	"github.com/gantry-sh/gantry/workers/controllers/deployment"
	"github.com/gantry-sh/gantry/workers/controllers/garbagecollector"
	"github.com/gantry-sh/gantry/workers/controllers/job"
	"github.com/gantry-sh/gantry/workers/controllers/namespace"
	"github.com/gantry-sh/gantry/workers/controllers/nodelifecycle"
	"github.com/gantry-sh/gantry/workers/controllers/replicaset"
	"github.com/gantry-sh/gantry/workers/scheduler"
)

// restartResync is the resync period of the loops in the restart test:
// short, so a few of them pass within a second.
const restartResync = 100 * time.Millisecond

// TestRestartAppendsNothing: the scheduler and the controllers, stopped
// once the cluster settled and started again (fresh instances, as after a
// restart of `gantry up`) on the same stream with nothing changed, send
// nothing that is accepted, within several resync periods. An event
// appended there would be kept in the history forever, once per restart.
// The cluster has no node, so every pod stays Pending (unschedulable), as
// in the restart test of cmd/gantry; one Deployment has enough pods that
// loading them takes longer than waking a worker.
func TestRestartAppendsNothing(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	appended := make(chan struct{}, 1)
	c.View.OnChange(func(projections.Change) {
		select {
		case appended <- struct{}{}:
		default:
		}
	})
	deployments := map[string]int32{"web": 5, "big": 400}
	gen := startGeneration(c)
	c.Apply("deployment", "default", "web", restartDeployment("web", 3))
	c.Apply("deployment", "default", "big", restartDeployment("big", deployments["big"]))
	c.MustDo("deployment", aggregates.VerbScale, aggregates.Command{Namespace: "default", Name: "web", Replicas: ptr(deployments["web"])})
	projtest.Eventually(t, 30*time.Second, "the deployments settled", func() bool { return settled(c, deployments) })
	quiet(t, appended, 3*restartResync, 30*time.Second)
	gen.stop()

	for restart := range 8 {
		// A command the stopped generation sent before it stopped may still
		// be appended: start from a quiet stream, not from the first read.
		quiet(t, appended, 3*restartResync, 30*time.Second)
		head := restartHead(t, c)
		drain(appended)
		gen = startGeneration(c)
		select { // the first event appended, or several resync periods without one
		case <-appended:
		case <-time.After(5 * restartResync):
		}
		gen.stop()
		if now := restartHead(t, c); now != head {
			t.Fatalf("restart %d appended events %d..%d with nothing changed:\n%s", restart+1, head+1, now, describeEvents(t, c, head+1, now))
		}
	}
}

// generation is one set of running workers.
type generation struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startGeneration starts fresh instances of the scheduler and the
// controllers `gantry up` runs for these kinds, on the cluster's view.
func startGeneration(c *projtest.Cluster) *generation {
	ctx, cancel := context.WithCancel(context.Background())
	g := &generation{cancel: cancel}
	client := func(name string) *bus.Client {
		return bus.NewClient(c.Conn, bus.Identity{Source: "gantry/controller/" + name})
	}
	runs := []func(context.Context) error{
		scheduler.NewLoop(c.View, client("scheduler"), scheduler.LoopOptions{Config: scheduler.Config{Seed: 1}, Resync: restartResync}).Run,
		replicaset.NewLoop(c.View, client("replicaset"), replicaset.LoopOptions{Resync: restartResync}).Run,
		deployment.NewLoop(c.View, client("deployment"), deployment.LoopOptions{Resync: restartResync}).Run,
		daemonset.NewLoop(c.View, client("daemonset"), daemonset.LoopOptions{Resync: restartResync}).Run,
		job.NewLoop(c.View, client("job"), job.LoopOptions{Resync: restartResync}).Run,
		garbagecollector.NewLoop(c.View, client("garbagecollector"), garbagecollector.LoopOptions{Resync: restartResync}).Run,
		nodelifecycle.NewLoop(c.View, c.Conn, client("nodelifecycle"), nodelifecycle.LoopOptions{Resync: restartResync}).Run,
		namespace.NewLoop(c.View, client("namespace"), namespace.LoopOptions{Resync: restartResync}).Run,
	}
	for _, run := range runs {
		g.wg.Add(1)
		go func() { defer g.wg.Done(); _ = run(ctx) }()
	}
	return g
}

// stop ends the workers and waits for them: their commands are answered.
func (g *generation) stop() {
	g.cancel()
	g.wg.Wait()
}

func restartDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{}
	d.APIVersion, d.Kind = "apps/v1", "Deployment"
	d.Name, d.Namespace, d.Labels = name, "default", labels
	d.Spec.Replicas = &replicas
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: labels}
	d.Spec.Template.Labels = labels
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: name, Image: "busybox:1"}}
	return d
}

// settled: every Deployment reports its replicas observed, every pod is
// marked unschedulable, and the stores agree on the counts.
func settled(c *projtest.Cluster, want map[string]int32) bool {
	if err := c.CaughtUp(context.Background()); err != nil {
		return false
	}
	pods := map[string]int32{}
	for _, e := range c.View.List("pod", "default") {
		p := &corev1.Pod{}
		if json.Unmarshal(e.Raw, p) != nil || !unschedulable(p) {
			return false
		}
		pods[p.Labels["app"]]++
	}
	for name, n := range want {
		e, ok := c.View.Get("deployment", "default", name)
		d := &appsv1.Deployment{}
		if !ok || json.Unmarshal(e.Raw, d) != nil {
			return false
		}
		st := d.Status
		if pods[name] != n || st.ObservedGeneration != d.Generation || st.Replicas != n || st.UpdatedReplicas != n || st.UnavailableReplicas != n {
			return false
		}
	}
	return true
}

func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return true
		}
	}
	return false
}

// quiet waits until nothing was appended for d, at most limit.
func quiet(t *testing.T, appended chan struct{}, d, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case <-appended:
		case <-time.After(d):
			return
		case <-deadline:
			t.Fatalf("events still appended after %v", limit)
		}
	}
}

func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func restartHead(t *testing.T, c *projtest.Cluster) uint64 {
	t.Helper()
	head, _, err := c.Store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return head
}

// describeEvents lists events from..to: who sent what, and why.
func describeEvents(t *testing.T, c *projtest.Cluster, from, to uint64) string {
	var b strings.Builder
	err := c.Store.Replay(context.Background(), nil, from, to, func(e bus.Envelope) error {
		fmt.Fprintf(&b, "%d %s %s by %s (%s): %.300s\n", e.Seq, e.Type, e.Subject, e.Source, e.Reason, e.Data)
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }
