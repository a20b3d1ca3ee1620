package namespace_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projtest"
	"github.com/gantry-sh/gantry/workers/controllers/namespace"
)

func TestLoopEmptiesADeletedNamespaceOwnersFirst(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("namespace", "", "shop", &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
	spec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}
	c.Apply("job", "shop", "batch", &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: metav1.ObjectMeta{Name: "batch"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}}})
	_ = c.CaughtUp(context.Background())
	e, _ := c.View.Get("job", "shop", "batch")
	var job batchv1.Job
	_ = json.Unmarshal(e.Raw, &job)
	yes := true
	c.Apply("pod", "shop", "batch-x", &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "batch-x",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "batch", UID: job.UID, Controller: &yes}}}, Spec: spec})
	c.Apply("configmap", "shop", "settings", &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "settings"}})
	c.Apply("configmap", "default", "keep", &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "keep"}})

	var mu sync.Mutex
	var gone []string
	c.View.OnChange(func(ch projections.Change) {
		if ch.Deleted && ch.Namespace == "shop" {
			mu.Lock()
			gone = append(gone, ch.Kind+"/"+ch.Name)
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loop := namespace.NewLoop(c.View, c.Client, namespace.LoopOptions{})
	go func() { _ = loop.Run(ctx) }()

	c.MustDo("namespace", aggregates.VerbDelete, aggregates.Command{Name: "shop"})
	projtest.Eventually(t, 15*time.Second, "shop empty", func() bool {
		for _, k := range []string{"job", "pod", "configmap"} {
			if len(c.View.List(k, "shop")) > 0 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if i, j := slices.Index(gone, "job/batch"), slices.Index(gone, "pod/batch-x"); i < 0 || j < 0 || i > j {
		t.Fatalf("deleted %v: the job must go before its pod", gone)
	}
	if _, ok := c.View.Get("configmap", "default", "keep"); !ok {
		t.Fatal("another namespace's object was deleted")
	}
}
