package hpa

import (
	"fmt"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func makeHPA(minR, maxR int32, util int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"},
			MinReplicas:    &minR, MaxReplicas: maxR,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &util},
			}}},
		},
	}
}

// target has n running pods requesting 100m each; usage gives each pod's millicores.
func target(n int, usage int64) (Target, map[string]PodMetric) {
	t := Target{Replicas: int32(n)}
	m := map[string]PodMetric{}
	for i := range n {
		name := fmt.Sprintf("web-%d", i)
		t.Pods = append(t.Pods, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		})
		m[name] = PodMetric{CPUMillicores: usage, Time: t0}
	}
	return t, m
}

func TestReconcile(t *testing.T) {
	tests := []struct {
		name      string
		hpa       *autoscalingv2.HorizontalPodAutoscaler
		pods      int
		usage     int64
		wantScale bool
		want      int32
	}{
		{"at target", makeHPA(1, 10, 50), 2, 50, false, 2},
		{"within tolerance", makeHPA(1, 10, 50), 2, 54, false, 2},
		{"scale up", makeHPA(1, 10, 50), 2, 100, true, 4},
		{"scale up capped by max", makeHPA(1, 3, 50), 2, 100, true, 3},
		{"scale up limited by policy (100% or 4 pods per 15s)", makeHPA(1, 100, 10), 2, 100, true, 6},
		{"scale down held by the 5 minute window", makeHPA(1, 10, 50), 4, 10, false, 4},
		{"below min", makeHPA(3, 10, 50), 2, 50, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, m := target(tt.pods, tt.usage)
			st := State{Recommendations: []Recommendation{{At: t0.Add(-time.Minute), Replicas: int32(tt.pods)}}}
			res := Reconcile(tt.hpa, tg, st, Env{Now: t0, Metrics: m})
			if res.Scale != tt.wantScale || res.Status.DesiredReplicas != tt.want {
				t.Fatalf("scale %v to %d (desired %d), want %v %d; reason %q", res.Scale, res.Replicas, res.Status.DesiredReplicas, tt.wantScale, tt.want, res.Reason)
			}
		})
	}
}

func TestReasonCarriesTheMetric(t *testing.T) {
	tg, m := target(2, 90)
	res := Reconcile(makeHPA(1, 10, 50), tg, State{}, Env{Now: t0, Metrics: m})
	if !res.Scale || res.Replicas != 4 || !strings.Contains(res.Reason, "cpu resource utilization (percentage of request) 90%") || !strings.Contains(res.Reason, "180m of 200m") {
		t.Fatalf("scale %v %d reason %q", res.Scale, res.Replicas, res.Reason)
	}
	cur := res.Status.CurrentMetrics[0].Resource.Current
	if *cur.AverageUtilization != 90 || cur.AverageValue.MilliValue() != 90 {
		t.Fatalf("current %+v", cur)
	}
}

// TestUpThenDownAfterTheWindow runs the HPA every 15s on a fake clock:
// CPU rises, it scales up at once; CPU falls, it scales down only once
// the high recommendations have left the 5-minute window.
func TestUpThenDownAfterTheWindow(t *testing.T) {
	hpa := makeHPA(1, 10, 50)
	replicas, st, now := int32(1), State{}, t0
	var log []string
	step := func(usage int64) {
		tg, m := target(int(replicas), usage)
		res := Reconcile(hpa, tg, st, Env{Now: now, Metrics: m})
		st = res.State
		if res.Scale {
			log = append(log, fmt.Sprintf("%s %d→%d", now.Sub(t0), replicas, res.Replicas))
			replicas = res.Replicas
		}
		hpa.Status = res.Status
		now = now.Add(15 * time.Second)
	}
	step(150) // 150% of request vs 50%: 3
	for range 4 {
		step(50)
	}
	for range 25 { // 10% from now on
		step(10)
	}
	want := []string{"0s 1→3", "6m15s 3→1"} // 5 minutes after the last recommendation of 3 (at 1m)
	if fmt.Sprint(log) != fmt.Sprint(want) {
		t.Fatalf("scaling %v, want %v", log, want)
	}
}

func TestErrors(t *testing.T) {
	tg, _ := target(2, 0)
	res := Reconcile(makeHPA(1, 10, 50), tg, State{}, Env{Now: t0})
	if res.Scale || res.Status.Conditions[0].Reason != "FailedGetResourceMetric" {
		t.Fatalf("no metrics: %+v", res.Status.Conditions)
	}
	tg, m := target(1, 50)
	tg.Pods[0].Spec.Containers[0].Resources.Requests = nil
	res = Reconcile(makeHPA(1, 10, 50), tg, State{}, Env{Now: t0, Metrics: m})
	if res.Scale || !strings.Contains(res.Status.Conditions[0].Message, "missing request for cpu") {
		t.Fatalf("no request: %+v", res.Status.Conditions)
	}
}
