package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/agentd/hollow"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/controllers/deployment"
)

func fastHollow() hollow.Options {
	return hollow.Options{CPU: "4", Memory: "16Gi", StartDelay: 20 * time.Millisecond, RunFor: 100 * time.Millisecond, LeaseEvery: 200 * time.Millisecond}
}

func controllers() options {
	return options{controllers: true, hollow: fastHollow(), lifecycle: nodeLifecycleForTests()}
}

func deploymentManifest(name string, replicas int, image, strategy string) string {
	return fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q},
"spec":{"replicas":%d,"selector":{"matchLabels":{"app":%q}},%s
"template":{"metadata":{"labels":{"app":%q}},"spec":{"terminationGracePeriodSeconds":5,"containers":[{"name":"web","image":%q}]}}}}`,
		name, replicas, name, strategy, name, image)
}

// live: pods of the app that are not terminating.
func (c *cluster) live(app string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range selectPods(c.pods("default"), map[string]string{"app": app}) {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func (c *cluster) waitReady(app string, n int, timeout time.Duration) {
	c.t.Helper()
	c.waitFor(timeout, fmt.Sprintf("exactly %d ready pods of %s", n, app), func() bool {
		pods := selectPods(c.pods("default"), map[string]string{"app": app})
		return len(pods) == n && count(pods, podReady) == n
	})
}

func TestDeploymentScales3To10To2(t *testing.T) {
	c := startCluster(t, controllers())
	c.startNodes("node", 3)
	start := time.Now()
	c.apply("deployment", "default", "web", deploymentManifest("web", 3, "web:1", ""))
	c.waitReady("web", 3, 20*time.Second)
	t.Logf("3 ready after %s", time.Since(start).Round(time.Millisecond))
	for _, n := range []int32{10, 2} {
		start = time.Now()
		c.mustDo("deployment", aggregates.VerbScale, aggregates.Command{Namespace: "default", Name: "web", Replicas: &n})
		c.waitReady("web", int(n), 20*time.Second)
		t.Logf("%d ready after %s", n, time.Since(start).Round(time.Millisecond))
	}
	var d appsv1.Deployment
	c.waitFor(10*time.Second, "deployment status 2/2", func() bool {
		return c.get("deployment", "default", "web", &d) && d.Status.ReadyReplicas == 2 && d.Status.Replicas == 2 && d.Status.UpdatedReplicas == 2
	})
}

// TestRollingUpdateNeverBelowThreeReady: `set image` with maxSurge=1 and
// maxUnavailable=0 keeps at least 3 ready pods at every event, then
// `rollout undo` brings the first template back.
func TestRollingUpdateNeverBelowThreeReady(t *testing.T) {
	c := startCluster(t, controllers())
	c.startNodes("node", 3)
	strategy := `"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},`
	c.apply("deployment", "default", "web", deploymentManifest("web", 3, "web:1", strategy))
	c.waitReady("web", 3, 20*time.Second)

	var mu sync.Mutex
	minReady, events := 3, 0
	c.watch(func(ch projections.Change) {
		if ch.Kind != "pod" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		events++
		minReady = min(minReady, count(selectPods(c.pods("default"), map[string]string{"app": "web"}), podReady))
	})
	image := func(want string) func() bool {
		return func() bool {
			pods := selectPods(c.pods("default"), map[string]string{"app": "web"})
			return len(pods) == 3 && count(pods, func(p *corev1.Pod) bool { return podReady(p) && p.Spec.Containers[0].Image == want }) == 3
		}
	}
	start := time.Now()
	setImage(c, "web", "web", "web:2")
	c.waitFor(30*time.Second, "3 ready pods of web:2 and no others", image("web:2"))
	mu.Lock()
	defer mu.Unlock()
	t.Logf("rolled to web:2 in %s; fewest ready pods over %d pod events: %d", time.Since(start).Round(time.Millisecond), events, minReady)
	if minReady < 3 {
		t.Fatalf("ready pods fell to %d during the rollout", minReady)
	}
	var d appsv1.Deployment
	c.waitFor(10*time.Second, "revision 2", func() bool {
		return c.get("deployment", "default", "web", &d) && d.Annotations[deployment.RevisionAnnotation] == "2"
	})

	start = time.Now()
	mu.Unlock()
	undo(c, "web")
	c.waitFor(30*time.Second, "3 ready pods of web:1 again", image("web:1"))
	mu.Lock()
	t.Logf("undone to web:1 in %s; fewest ready pods: %d", time.Since(start).Round(time.Millisecond), minReady)
	if minReady < 3 {
		t.Fatalf("ready pods fell to %d during the undo", minReady)
	}
	c.waitFor(10*time.Second, "revision 3", func() bool {
		return c.get("deployment", "default", "web", &d) && d.Annotations[deployment.RevisionAnnotation] == "3"
	})
}

// setImage does what `gantry set image` does: update the template with a
// resourceVersion precondition.
func setImage(c *cluster, name, container, image string) {
	c.t.Helper()
	c.retryOnConflict(func() error {
		return trySetImage(c, name, container, image)
	})
}

func trySetImage(c *cluster, name, container, image string) error {
	c.sync()
	var d appsv1.Deployment
	if !c.get("deployment", "default", name, &d) {
		c.t.Fatalf("no deployment %s", name)
	}
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == container {
			d.Spec.Template.Spec.Containers[i].Image = image
		}
	}
	return c.update("deployment", &d)
}

// undo does what `gantry rollout undo` does.
func undo(c *cluster, name string) {
	c.t.Helper()
	c.retryOnConflict(func() error { return tryUndo(c, name) })
}

func tryUndo(c *cluster, name string) error {
	c.sync()
	var d appsv1.Deployment
	c.get("deployment", "default", name, &d)
	var rss []*appsv1.ReplicaSet
	for _, e := range c.view.List("replicaset", "default") {
		rs := &appsv1.ReplicaSet{}
		if c.get("replicaset", "default", e.Name, rs) {
			rss = append(rss, rs)
		}
	}
	back, err := deployment.Rollback(&d, rss, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.update("deployment", back)
}

func (c *cluster) retryOnConflict(fn func() error) {
	c.t.Helper()
	for range 10 {
		err := fn()
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) && !strings.Contains(err.Error(), bus.ErrConflict.Error()) {
			c.t.Fatal(err)
		}
	}
	c.t.Fatal("still conflicting after 10 attempts")
}

func (c *cluster) update(kind string, obj interface {
	GetNamespace() string
	GetName() string
	GetResourceVersion() string
}) error {
	raw := mustJSON(obj)
	_, err := c.do(kind, aggregates.VerbUpdate, aggregates.Command{Namespace: obj.GetNamespace(), Name: obj.GetName(), ResourceVersion: obj.GetResourceVersion(), Object: raw})
	return err
}

func TestJobCompletionsFiveParallelismTwo(t *testing.T) {
	c := startCluster(t, controllers())
	c.startNodes("node", 2)
	var mu sync.Mutex
	maxActive := 0
	c.watch(func(ch projections.Change) {
		mu.Lock()
		defer mu.Unlock()
		if ch.Kind == "pod" {
			pods := selectPods(c.pods("default"), map[string]string{"job-name": "batch"})
			maxActive = max(maxActive, count(pods, func(p *corev1.Pod) bool {
				return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
			}))
		}
	})
	start := time.Now()
	c.apply("job", "default", "batch", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"batch"},
"spec":{"completions":5,"parallelism":2,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"work","image":"busybox"}]}}}}`)
	var j batchv1.Job
	c.waitFor(30*time.Second, "job Complete with 5 succeeded", func() bool {
		if !c.get("job", "default", "batch", &j) {
			return false
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return j.Status.Succeeded == 5
			}
		}
		return false
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("job complete in %s, at most %d pods active at once", time.Since(start).Round(time.Millisecond), maxActive)
	if maxActive > 2 {
		t.Fatalf("%d pods were active at once, parallelism is 2", maxActive)
	}
	if n := len(selectPods(c.pods("default"), map[string]string{"job-name": "batch"})); n != 5 {
		t.Fatalf("the job has %d pods, want 5 (one per completion)", n)
	}
}

func TestDaemonSetFollowsNodes(t *testing.T) {
	c := startCluster(t, controllers())
	c.startNodes("node", 3)
	c.apply("daemonset", "default", "agent", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},
"spec":{"selector":{"matchLabels":{"app":"agent"}},"template":{"metadata":{"labels":{"app":"agent"}},"spec":{"containers":[{"name":"a","image":"agent:1"}]}}}}`)
	perNode := func(want int) func() bool {
		return func() bool {
			pods := c.live("agent")
			nodes := map[string]bool{}
			for _, p := range pods {
				if podReady(p) {
					nodes[p.Spec.NodeName] = true
				}
			}
			return len(pods) == want && len(nodes) == want
		}
	}
	c.waitFor(20*time.Second, "one ready daemon pod on each of 3 nodes", perNode(3))
	start := time.Now()
	c.startNodes("extra", 1)
	c.waitFor(20*time.Second, "one ready daemon pod on each of 4 nodes", perNode(4))
	t.Logf("daemon pod ready on the new node %s after it registered", time.Since(start).Round(time.Millisecond))
	c.mustDo("node", aggregates.VerbDelete, aggregates.Command{Name: "extra-3"})
	c.waitFor(20*time.Second, "daemon pods back to 3 after the node left", func() bool {
		pods := c.pods("default")
		return len(c.live("agent")) == 3 && count(pods, func(p *corev1.Pod) bool { return p.Spec.NodeName == "extra-3" }) == 0
	})
}

func TestCascadingDeleteOfDeployment(t *testing.T) {
	c := startCluster(t, controllers())
	c.startNodes("node", 2)
	c.apply("deployment", "default", "web", deploymentManifest("web", 3, "web:1", ""))
	c.waitReady("web", 3, 20*time.Second)
	start := time.Now()
	c.mustDo("deployment", aggregates.VerbDelete, aggregates.Command{Namespace: "default", Name: "web"})
	c.waitFor(20*time.Second, "no replica sets and no pods left", func() bool {
		return len(c.view.List("replicaset", "default")) == 0 && len(c.view.List("pod", "default")) == 0
	})
	t.Logf("deployment, replica set and 3 pods gone %s after the delete", time.Since(start).Round(time.Millisecond))
}
