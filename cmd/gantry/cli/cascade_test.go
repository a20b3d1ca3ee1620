package cli

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/projections/projtest"
	"github.com/gantry-sh/gantry/workers/controllers/garbagecollector"
)

// replicaSetWithPods applies a ReplicaSet and n unbound pods it owns, and
// returns the pods' names.
func replicaSetWithPods(t *testing.T, c *projtest.Cluster, name string, n int) []string {
	t.Helper()
	labels := map[string]string{"app": name}
	rs := &appsv1.ReplicaSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}},
	}
	c.Apply("replicaset", "default", name, rs)
	get(t, c, "replicaset", "default", name, rs)
	owner := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: name, UID: rs.UID, Controller: new(true), BlockOwnerDeletion: new(true)}
	var pods []string
	for i := range n {
		p := testPod(name+"-"+string(rune('a'+i)), "", owner)
		p.Labels = labels
		c.Apply("pod", "default", p.Name, p)
		pods = append(pods, p.Name)
	}
	return pods
}

// TestDeleteCascade: delete --cascade=foreground returns once the
// collector has removed the owner's dependents, orphan keeps them without
// the reference to the owner, background leaves them to the collector,
// and anything else is refused.
func TestDeleteCascade(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gc := garbagecollector.NewLoop(c.View, c.Client, garbagecollector.LoopOptions{})
	done := make(chan struct{})
	go func() { defer close(done); _ = gc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	pods := replicaSetWithPods(t, c, "front", 2)
	out, errOut := gantryOn(c, "delete", "rs", "front", "--cascade=foreground")
	if want := "replicaset.apps/front deleted\n2 dependents of replicaset.apps/front deleted\n"; out != want || errOut != "" {
		t.Errorf("foreground delete: %q %q, want %q", out, errOut, want)
	}
	for _, p := range pods { // gone when the command returned, not later
		if _, ok := c.View.Get("pod", "default", p); ok {
			t.Errorf("pod %s is still there after a foreground delete returned", p)
		}
	}

	kept := replicaSetWithPods(t, c, "keep", 2)
	out, errOut = gantryOn(c, "delete", "rs", "keep", "--cascade=orphan")
	if want := "replicaset.apps/keep deleted\n"; out != want || errOut != "" {
		t.Errorf("orphan delete: %q %q, want %q", out, errOut, want)
	}

	pods = replicaSetWithPods(t, c, "back", 1)
	out, errOut = gantryOn(c, "delete", "rs", "back")
	if want := "replicaset.apps/back deleted\n"; out != want || errOut != "" {
		t.Errorf("background delete: %q %q, want %q", out, errOut, want)
	}
	projtest.Eventually(t, 10*time.Second, "the collector to delete back's pod", func() bool {
		_, ok := c.View.Get("pod", "default", pods[0])
		return !ok
	})
	// The collector has acted on the later delete: the orphans are still
	// there, without their owner.
	for _, name := range kept {
		var p corev1.Pod
		get(t, c, "pod", "default", name, &p)
		if len(p.OwnerReferences) != 0 || p.DeletionTimestamp != nil {
			t.Errorf("orphaned pod %s: owners %v, deletion %v", name, p.OwnerReferences, p.DeletionTimestamp)
		}
	}

	replicaSetWithPods(t, c, "side", 0)
	if _, errOut = gantryOn(c, "delete", "rs", "side", "--cascade=sideways"); errOut != "error: --cascade \"sideways\": want background, foreground or orphan\n" {
		t.Errorf("a bad --cascade: %q", errOut)
	}
	if _, ok := c.View.Get("replicaset", "default", "side"); !ok {
		t.Error("a refused delete deleted the ReplicaSet")
	}
}
