package nete2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/controllers/deployment"
	"github.com/gantry-sh/gantry/workers/scheduler"
)

// TestDeploymentRolloutOnRealPods is issue 5's rollout on the containerd
// agent: 3 httpd pods behind an httpGet readiness probe, placed by the
// scheduler; `set image` to a second tag of the test image with
// maxSurge=1/maxUnavailable=0 never leaves fewer than 3 ready pods (checked
// at every pod, ReplicaSet and Deployment event) and ends with every pod on
// the new template; `rollout undo` brings the first template back, under
// the same check.
func TestDeploymentRolloutOnRealPods(t *testing.T) {
	e := newEnv(t, "rollout")
	e.startScheduler()
	second := secondTag(t, image, "test2")

	start := time.Now()
	e.apply("deployment", rollingDeployment("web", 3, image))
	first := e.waitReady("web", 3, 90*time.Second)
	for _, p := range first {
		if p.Spec.NodeName != nodeName {
			t.Fatalf("pod %s bound to %q, want %s", p.Name, p.Spec.NodeName, nodeName)
		}
	}
	t.Logf("3 pods scheduled, started and ready in %s", time.Since(start).Round(time.Millisecond))

	guard := e.guardReady("web", 3)
	start = time.Now()
	e.retryConflicts(func() error { return e.trySetImage("web", "web", second) })
	rolled := e.waitRolledOut("web", second, "2", 3, 120*time.Second)
	gone := e.waitOnlyImage("web", second, 60*time.Second)
	guard.check(t, "set image")
	t.Logf("set image: new template on 3 ready pods, status rolled out after %s; old pods gone after %s; %s",
		rolled.Sub(start).Round(time.Millisecond), gone.Sub(start).Round(time.Millisecond), guard)

	// Undo once `rollout status` would have returned: undoing while old
	// replicas are still terminating is the hollow-node test's business.
	guard.reset()
	start = time.Now()
	e.retryConflicts(func() error { return e.tryUndo("web") })
	rolled = e.waitRolledOut("web", image, "3", 3, 120*time.Second)
	gone = e.waitOnlyImage("web", image, 60*time.Second)
	guard.check(t, "rollout undo")
	firstHash := anyPod(first).Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	for _, p := range e.pods("web") {
		if h := p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; h != firstHash {
			t.Fatalf("after undo pod %s has template hash %s, want the first template's %s", p.Name, h, firstHash)
		}
	}
	t.Logf("rollout undo: first template on 3 ready pods, status rolled out after %s; old pods gone after %s; %s",
		rolled.Sub(start).Round(time.Millisecond), gone.Sub(start).Round(time.Millisecond), guard)

	var d appsv1.Deployment
	e.get("deployment", "web", &d)
	var hashes []string
	for _, rs := range e.ownedReplicaSets(&d) {
		hashes = append(hashes, fmt.Sprintf("rev %d %s=%d", deployment.Revision(rs.Annotations), rs.Name, *rs.Spec.Replicas))
	}
	t.Logf("replica sets after undo: %s", strings.Join(hashes, ", "))
}

func anyPod(pods map[string]*corev1.Pod) *corev1.Pod {
	for _, p := range pods {
		return p
	}
	return nil
}

// rollingDeployment is webDeployment without nodeName (the scheduler
// places it) and with maxSurge=1, maxUnavailable=0. httpd runs under a
// shell that stops it on SIGTERM, so replaced pods go promptly.
func rollingDeployment(name string, replicas int, img string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: %[3]s
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/name && echo ok > /www/ready && httpd -f -p 8080 -h /www & trap 'kill $!; exit 0' TERM; wait"]
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1, failureThreshold: 1}
`, name, replicas, img)
}

// secondTag pushes ref's image again under tag in the same registry and
// returns the new reference: a different image string, so a different pod
// template, for the same bytes.
func secondTag(t *testing.T, ref, tag string) string {
	t.Helper()
	src, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src)
	if err != nil {
		t.Fatalf("read %s: %v", ref, err)
	}
	dst := src.Context().Tag(tag)
	if err := remote.Write(dst, img); err != nil {
		t.Fatalf("push %s: %v", dst, err)
	}
	return dst.String()
}

// startScheduler runs the scheduler loop until cleanup; the env's other
// tests pin their pods with nodeName and never need it.
func (e *env) startScheduler() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	loop := scheduler.NewLoop(e.c.View, e.client("gantry/scheduler"), scheduler.LoopOptions{Resync: 2 * time.Second})
	go func() { done <- loop.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				e.t.Errorf("scheduler: %v", err)
			}
		case <-time.After(15 * time.Second):
			e.t.Error("scheduler did not stop within 15s")
		}
	})
}

// readyGuard records the fewest ready, not terminating, pods of an app
// seen at any pod, ReplicaSet or Deployment event, and the most live ones
// (check holds them to want and want+1: maxUnavailable=0, maxSurge=1).
type readyGuard struct {
	mu       sync.Mutex
	want     int
	fewest   int
	events   int
	most     int // the most live pods at once (surge)
	fewestAt string
	since    time.Time
	steps    []string // pods first seen ready or terminating, with when
	seen     map[string]bool
}

func (e *env) guardReady(app string, want int) *readyGuard {
	g := &readyGuard{want: want}
	g.reset()
	e.watch(func(ch projections.Change) {
		if ch.Kind != "pod" && ch.Kind != "replicaset" && ch.Kind != "deployment" {
			return
		}
		pods := e.pods(app)
		ready := 0
		for _, p := range pods {
			if isReady(p) {
				ready++
			}
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if ch.Kind == "pod" {
			g.step(ch)
		}
		g.events++
		g.most = max(g.most, len(pods))
		if ready < g.fewest {
			g.fewest = ready
			g.fewestAt = fmt.Sprintf("%s %s %s", ch.Kind, ch.Name, ch.Verb)
		}
	})
	return g
}

func (g *readyGuard) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fewest, g.events, g.most, g.fewestAt = g.want, 0, 0, ""
	g.since, g.steps, g.seen = time.Now(), nil, map[string]bool{}
}

// step notes, once each, a pod that became ready and a pod that began
// terminating, with the time since reset.
func (g *readyGuard) step(ch projections.Change) {
	var p corev1.Pod
	if ch.Deleted || json.Unmarshal(ch.Raw, &p) != nil {
		return
	}
	what := ""
	switch {
	case p.DeletionTimestamp != nil:
		what = "-" + p.Name
	case isReady(&p):
		what = "+" + p.Name
	}
	if what != "" && !g.seen[what] {
		g.seen[what] = true
		g.steps = append(g.steps, fmt.Sprintf("%s@%s", what, time.Since(g.since).Round(time.Millisecond)))
	}
}

func (g *readyGuard) check(t *testing.T, during string) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.events == 0 {
		t.Fatalf("%s: no events seen", during)
	}
	if g.fewest < g.want {
		t.Fatalf("%s: ready pods fell to %d (at %s), want at least %d", during, g.fewest, g.fewestAt, g.want)
	}
	if g.most > g.want+1 {
		t.Fatalf("%s: %d live pods at once, maxSurge=1 allows %d", during, g.most, g.want+1)
	}
}

func (g *readyGuard) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return fmt.Sprintf("fewest ready pods %d over %d events, at most %d live pods; ready (+) and terminating (-): %s",
		g.fewest, g.events, g.most, strings.Join(g.steps, " "))
}

// waitRolledOut waits until the deployment's status says what `rollout
// status` waits for (generation observed, every replica updated and
// available, no old ones) at revision rev, with n ready live pods all
// running img, and returns when.
func (e *env) waitRolledOut(app, img, rev string, n int, timeout time.Duration) time.Time {
	e.t.Helper()
	e.waitFor(timeout, fmt.Sprintf("deployment %s rolled out to %s at revision %s", app, img, rev), func() bool {
		var d appsv1.Deployment
		if !e.get("deployment", app, &d) || d.Annotations[deployment.RevisionAnnotation] != rev {
			return false
		}
		st := d.Status
		if d.Generation > st.ObservedGeneration || st.UpdatedReplicas != int32(n) || st.Replicas != int32(n) || st.AvailableReplicas != int32(n) {
			return false
		}
		pods := e.pods(app)
		ready := 0
		for _, p := range pods {
			if isReady(p) && p.Spec.Containers[0].Image == img {
				ready++
			}
		}
		return len(pods) == n && ready == n
	})
	return time.Now()
}

// waitOnlyImage waits until no pod of app, terminating or not, runs
// anything but img.
func (e *env) waitOnlyImage(app, img string, timeout time.Duration) time.Time {
	e.t.Helper()
	e.waitFor(timeout, fmt.Sprintf("every pod of %s on %s", app, img), func() bool {
		for _, en := range e.c.View.List("pod", e.ns) {
			var p corev1.Pod
			if json.Unmarshal(en.Raw, &p) == nil && p.Labels["app"] == app && p.Spec.Containers[0].Image != img {
				return false
			}
		}
		return true
	})
	return time.Now()
}

// get reads ns/name of kind from the view once it has caught up with the
// stream, as the query API does.
func (e *env) get(kind, name string, into any) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.c.CaughtUp(ctx); err != nil {
		e.t.Fatal(err)
	}
	en, ok := e.c.View.Get(kind, e.ns, name)
	return ok && json.Unmarshal(en.Object(), into) == nil
}

// trySetImage is `gantry set image deployment/NAME CONTAINER=IMAGE`: the
// template changed, sent as an update with a resourceVersion precondition.
func (e *env) trySetImage(name, container, img string) error {
	var d appsv1.Deployment
	if !e.get("deployment", name, &d) {
		e.t.Fatalf("no deployment %s", name)
	}
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == container {
			d.Spec.Template.Spec.Containers[i].Image = img
		}
	}
	return e.update("deployment", &d, "set image")
}

// tryUndo is `gantry rollout undo deployment/NAME`: deployment.Rollback
// over the ReplicaSets the deployment controls, sent as an update.
func (e *env) tryUndo(name string) error {
	var d appsv1.Deployment
	if !e.get("deployment", name, &d) {
		e.t.Fatalf("no deployment %s", name)
	}
	back, err := deployment.Rollback(&d, e.ownedReplicaSets(&d), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.update("deployment", back, "rollout undo")
}

// ownedReplicaSets lists the ReplicaSets d controls, as the CLI does.
func (e *env) ownedReplicaSets(d *appsv1.Deployment) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, en := range e.c.View.List("replicaset", e.ns) {
		rs := &appsv1.ReplicaSet{}
		if json.Unmarshal(en.Object(), rs) != nil {
			continue
		}
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.UID == d.UID {
			out = append(out, rs)
		}
	}
	return out
}

func (e *env) update(kind string, obj metav1.Object, reason string) error {
	raw, err := json.Marshal(obj)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = e.c.Client.Do(ctx, kind, aggregates.VerbUpdate, aggregates.Command{Namespace: obj.GetNamespace(),
		Name: obj.GetName(), ResourceVersion: obj.GetResourceVersion(), Object: raw}, bus.CommandMeta{Reason: reason})
	return err
}

// retryConflicts retries fn while the update loses a resourceVersion race
// (a controller wrote the deployment's status in between), 10 times at
// most, as the CLI does.
func (e *env) retryConflicts(fn func() error) {
	e.t.Helper()
	var err error
	for range 10 {
		if err = fn(); err == nil {
			return
		}
		if !apierrors.IsConflict(err) && !errors.Is(err, bus.ErrConflict) && !strings.Contains(err.Error(), bus.ErrConflict.Error()) {
			e.t.Fatal(err)
		}
	}
	e.t.Fatalf("still conflicting after 10 attempts: %v", err)
}
