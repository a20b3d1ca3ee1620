package statefulset_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projtest"
	"github.com/gantry-sh/gantry/workers/controllers/statefulset"
)

// kubelet plays scheduler and node agents for the test: it binds each new
// pod (to the node its affinity names, else to place(pod)), reports it
// Running and Ready, and finalizes terminating pods. It logs "+name" on
// create, "ready name" and "-name" on delete, in stream order.
type kubelet struct {
	c     *projtest.Cluster
	place func(name string) string
	mu    sync.Mutex
	log   []string
	work  chan projections.Change
}

func startKubelet(t *testing.T, c *projtest.Cluster, place func(string) string) *kubelet {
	k := &kubelet{c: c, place: place, work: make(chan projections.Change, 4096)}
	c.View.OnChange(func(ch projections.Change) {
		if ch.Kind == "pod" {
			k.work <- ch
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ch := <-k.work:
				k.handle(ch)
			}
		}
	}()
	return k
}

func (k *kubelet) record(s string) {
	k.mu.Lock()
	k.log = append(k.log, s)
	k.mu.Unlock()
}

func (k *kubelet) Log() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.log)
}

func (k *kubelet) handle(ch projections.Change) {
	if ch.Deleted {
		k.record("-" + ch.Name)
		return
	}
	var p corev1.Pod
	_ = json.Unmarshal(ch.Raw, &p)
	switch {
	case ch.Verb == aggregates.Created:
		k.record("+" + ch.Name)
		node := k.place(p.Name)
		if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil {
			node = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0]
		}
		_, _ = k.c.Do("pod", aggregates.VerbBind, aggregates.Command{Namespace: p.Namespace, Name: p.Name, NodeName: node})
		st, _ := json.Marshal(corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}})
		_, _ = k.c.Do("pod", aggregates.VerbStatus, aggregates.Command{Namespace: p.Namespace, Name: p.Name, Status: st})
	case ch.Verb == aggregates.StatusChanged && p.Status.Phase == corev1.PodRunning:
		k.record("ready " + ch.Name)
	case ch.Verb == aggregates.Terminating:
		_, _ = k.c.Do("pod", aggregates.VerbFinalize, aggregates.Command{Namespace: p.Namespace, Name: p.Name})
	}
}

func webSet(replicas int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, ServiceName: "nginx",
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
		},
	}
}

func getPod(c *projtest.Cluster, name string) *corev1.Pod {
	e, ok := c.View.Get("pod", "default", name)
	if !ok {
		return nil
	}
	p := &corev1.Pod{}
	_ = json.Unmarshal(e.Raw, p)
	return p
}

func getSet(c *projtest.Cluster) *appsv1.StatefulSet {
	e, ok := c.View.Get("statefulset", "default", "web")
	if !ok {
		return nil
	}
	s := &appsv1.StatefulSet{}
	_ = json.Unmarshal(e.Raw, s)
	return s
}

func TestLoopOrderIdentityAndVolumes(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	var mu sync.Mutex
	nodes := map[string]string{"web-0": "node-a", "web-1": "node-b", "web-2": "node-a"}
	k := startKubelet(t, c, func(name string) string { mu.Lock(); defer mu.Unlock(); return nodes[name] })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loop := statefulset.NewLoop(c.View, c.Client, statefulset.LoopOptions{DataDir: "/data", Resync: time.Second})
	go func() { _ = loop.Run(ctx) }()

	c.Apply("statefulset", "default", "web", webSet(3))
	projtest.Eventually(t, 20*time.Second, "3 ready replicas, each ordinal's volume node recorded", func() bool {
		s := getSet(c)
		var volumeNodes map[string]string // the status and the annotation are separate writes
		return s != nil && s.Status.ReadyReplicas == 3 &&
			json.Unmarshal([]byte(s.Annotations[statefulset.AnnotationVolumeNodes]), &volumeNodes) == nil && len(volumeNodes) == 3
	})
	want := []string{"+web-0", "ready web-0", "+web-1", "ready web-1", "+web-2", "ready web-2"}
	if got := k.Log(); !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	s := getSet(c)
	if got := s.Annotations[statefulset.AnnotationVolumeNodes]; got != `{"0":"node-a","1":"node-b","2":"node-a"}` {
		t.Fatalf("volume nodes %s", got)
	}
	p := getPod(c, "web-1")
	if p.Spec.Hostname != "web-1" || p.Spec.Subdomain != "nginx" || p.Spec.Volumes[0].HostPath.Path != "/data/volumes/default/web/data-1" {
		t.Fatalf("web-1 identity %s %s %+v", p.Spec.Hostname, p.Spec.Subdomain, p.Spec.Volumes)
	}

	// web-1 is deleted (its node drained, say): it comes back with the
	// same name and volume directory, pinned to node-b.
	mu.Lock()
	nodes["web-1"] = "node-c" // where a scheduler would put it without the pin
	mu.Unlock()
	oldUID := p.UID
	c.MustDo("pod", aggregates.VerbDelete, aggregates.Command{Namespace: "default", Name: "web-1"})
	projtest.Eventually(t, 20*time.Second, "web-1 re-created and ready", func() bool {
		p := getPod(c, "web-1")
		return p != nil && p.UID != oldUID && p.Status.Phase == corev1.PodRunning
	})
	p = getPod(c, "web-1")
	if p.Spec.NodeName != "node-b" || p.Spec.Volumes[0].HostPath.Path != "/data/volumes/default/web/data-1" || p.Spec.Hostname != "web-1" {
		t.Fatalf("re-created web-1 on %s with %+v", p.Spec.NodeName, p.Spec.Volumes)
	}

	// Scale to zero: deleted in reverse order, each after the one above is gone.
	mark := len(k.Log())
	c.MustDo("statefulset", aggregates.VerbScale, aggregates.Command{Namespace: "default", Name: "web", Replicas: ptr(int32(0))})
	projtest.Eventually(t, 20*time.Second, "no replicas", func() bool {
		s := getSet(c)
		return getPod(c, "web-0") == nil && s.Status.Replicas == 0
	})
	if got := k.Log()[mark:]; !slices.Equal(got, []string{"-web-2", "-web-1", "-web-0"}) {
		t.Fatalf("scale-down order %v", got)
	}
}

func TestLoopRollingUpdateInReverse(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	k := startKubelet(t, c, func(name string) string { return "node-a" })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loop := statefulset.NewLoop(c.View, c.Client, statefulset.LoopOptions{Resync: time.Second})
	go func() { _ = loop.Run(ctx) }()

	set := webSet(3)
	c.Apply("statefulset", "default", "web", set)
	projtest.Eventually(t, 20*time.Second, "3 ready", func() bool { s := getSet(c); return s != nil && s.Status.ReadyReplicas == 3 })
	first := getSet(c).Status.UpdateRevision
	mark := len(k.Log())
	set.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	c.Apply("statefulset", "default", "web", set)
	projtest.Eventually(t, 20*time.Second, "update done", func() bool {
		s := getSet(c)
		return s.Status.UpdateRevision != first && s.Status.CurrentRevision == s.Status.UpdateRevision && s.Status.ReadyReplicas == 3
	})
	var order []string
	for _, e := range k.Log()[mark:] {
		if e[0] == '-' {
			order = append(order, e)
		}
	}
	if !slices.Equal(order, []string{"-web-2", "-web-1", "-web-0"}) {
		t.Fatalf("update order %v (log %v)", order, k.Log()[mark:])
	}
	if img := getPod(c, "web-0").Spec.Containers[0].Image; img != "nginx:1.28" {
		t.Fatalf("web-0 runs %s", img)
	}
}

func ptr[T any](v T) *T { return &v }
