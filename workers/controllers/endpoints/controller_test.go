package endpoints_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections/projtest"
	"github.com/gantry-sh/gantry/workers/controllers/endpoints"
)

func podManifest(name string, lbls map[string]string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func podStatus(ip string, ready bool) corev1.PodStatus {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}
}

// endpointsOf lists "ip:port ready" of service svc's slices in the view.
func endpointsOf(c *projtest.Cluster, svc string) string {
	var out []string
	for _, e := range c.View.List("endpointslice", "default") {
		var es discoveryv1.EndpointSlice
		_ = json.Unmarshal(e.Raw, &es)
		if es.Labels[discoveryv1.LabelServiceName] != svc {
			continue
		}
		for _, ep := range es.Endpoints {
			r := "notready"
			if *ep.Conditions.Ready {
				r = "ready"
			}
			out = append(out, fmt.Sprintf("%s:%d %s", ep.Addresses[0], *es.Ports[0].Port, r))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func startController(t *testing.T, c *projtest.Cluster) {
	ctl := endpoints.New(c.View, bus.NewClient(c.Conn, bus.Identity{Source: endpoints.Source}), endpoints.Options{CaughtUp: c.CaughtUp})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = ctl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestControllerFollowsPodReadiness(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	web := map[string]string{"app": "web"}
	c.Apply("pod", "default", "early", podManifest("early", web)) // before the controller starts
	c.Status("pod", "default", "early", podStatus("10.244.0.9", true))
	startController(t, c)
	c.Apply("service", "default", "web", &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: web, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	})
	wait := func(want string) {
		t.Helper()
		projtest.Eventually(t, 10*time.Second, "endpoints "+want, func() bool { return endpointsOf(c, "web") == want })
	}
	wait("10.244.0.9:8080 ready")
	for i, name := range []string{"a", "b"} {
		c.Apply("pod", "default", name, podManifest(name, web))
		c.Status("pod", "default", name, podStatus(fmt.Sprintf("10.244.0.%d", i+1), false))
	}
	c.Apply("pod", "default", "other", podManifest("other", map[string]string{"app": "db"}))
	c.Status("pod", "default", "other", podStatus("10.244.0.50", true))
	wait("10.244.0.1:8080 notready,10.244.0.2:8080 notready,10.244.0.9:8080 ready")

	c.Status("pod", "default", "a", podStatus("10.244.0.1", true))
	wait("10.244.0.1:8080 ready,10.244.0.2:8080 notready,10.244.0.9:8080 ready")

	c.MustDo("pod", "delete", aggregates.Command{Namespace: "default", Name: "early"})
	wait("10.244.0.1:8080 ready,10.244.0.2:8080 notready")

	db := "db"
	c.MustDo("pod", "label", aggregates.Command{Namespace: "default", Name: "b", Labels: map[string]*string{"app": &db}})
	wait("10.244.0.1:8080 ready")

	t.Run("no command when nothing differs", func(t *testing.T) {
		ctx := context.Background()
		before, _, _ := c.Store.Head(ctx)
		v := "x"
		c.MustDo("service", "label", aggregates.Command{Namespace: "default", Name: "web", Labels: map[string]*string{"touched": &v}})
		c.Status("pod", "default", "other", podStatus("10.244.0.51", true)) // not selected
		time.Sleep(300 * time.Millisecond)                                  // give a wrong command time to land
		after, _, _ := c.Store.Head(ctx)
		if after != before+2 {
			t.Errorf("stream moved by %d events, want 2 (the label and the status)", after-before)
		}
	})

	c.MustDo("service", "delete", aggregates.Command{Namespace: "default", Name: "web"})
	wait("")
}
