package hpa

import (
	"fmt"
	"math"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tolerance is Kubernetes' default: a usage ratio within 10% of 1 is no change.
const tolerance = 0.1

// Kubernetes' default behavior.
const (
	defaultDownWindow = 300 * time.Second
	defaultPeriod     = 15 * time.Second
)

// Target is what the HPA scales: its current replica count and its pods.
type Target struct {
	Replicas int32
	Pods     []*corev1.Pod
}

// State is what the loop remembers between reconciles of one HPA (as the
// Kubernetes controller does, in memory): recent recommendations for the
// stabilization windows and recent scale events for the rate policies.
type State struct {
	Recommendations []Recommendation
	Events          []ScaleEvent
}

// Recommendation is one reconcile's proposal.
type Recommendation struct {
	At       time.Time
	Replicas int32
}

// ScaleEvent is one scaling the HPA did.
type ScaleEvent struct {
	At    time.Time
	Delta int32 // positive: up
}

// Env is what Reconcile needs from the world, injected.
type Env struct {
	Now     time.Time
	Metrics map[string]PodMetric // the target namespace's pods, by name
}

// Result holds the decision for one HPA.
type Result struct {
	Scale    bool // send a scale command to Replicas
	Replicas int32
	Reason   string // why, with the metric values
	Status   autoscalingv2.HorizontalPodAutoscalerStatus
	State    State
}

// Reconcile computes the replica count the HPA wants: per metric,
// ceil(ratio × pods measured) where ratio is current over target usage
// (no change within 10%), the largest over metrics; then the stabilization
// windows (scale up to the lowest, down to the highest recommendation of
// the window), the rate policies, and minReplicas/maxReplicas.
func Reconcile(hpa *autoscalingv2.HorizontalPodAutoscaler, target Target, st State, env Env) Result {
	res := reconcile(hpa, target, st, env)
	for i := range res.Status.Conditions {
		c := &res.Status.Conditions[i]
		for _, old := range hpa.Status.Conditions {
			if old.Type == c.Type && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	return res
}

func reconcile(hpa *autoscalingv2.HorizontalPodAutoscaler, target Target, st State, env Env) Result {
	res := Result{Replicas: target.Replicas}
	status := autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: &hpa.Generation, CurrentReplicas: target.Replicas, DesiredReplicas: target.Replicas,
		LastScaleTime: hpa.Status.LastScaleTime,
	}
	res.State = prune(st, env.Now, hpa)
	if target.Replicas == 0 {
		setCondition(&status, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero", env.Now)
		res.Status = status
		return res
	}
	proposal, metrics, why, err := propose(hpa, target, env)
	status.CurrentMetrics = metrics
	if err != nil {
		setCondition(&status, autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric", err.Error(), env.Now)
		res.Status = status
		return res
	}
	setCondition(&status, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from "+why, env.Now)
	res.State.Recommendations = append(res.State.Recommendations, Recommendation{At: env.Now, Replicas: proposal})
	desired, limited := normalize(hpa, target.Replicas, proposal, res.State, env.Now)
	status.DesiredReplicas = desired
	if limited != "" {
		setCondition(&status, autoscalingv2.ScalingLimited, corev1.ConditionTrue, "ScalingLimited", limited, env.Now)
	} else {
		setCondition(&status, autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange", "the desired count is within the acceptable range", env.Now)
	}
	if desired != target.Replicas {
		res.Scale, res.Replicas = true, desired
		dir := "above"
		if desired < target.Replicas {
			dir = "below"
		}
		res.Reason = fmt.Sprintf("New size: %d (from %d); reason: %s %s target", desired, target.Replicas, why, dir)
		if limited != "" {
			res.Reason += "; " + limited
		}
		res.State.Events = append(res.State.Events, ScaleEvent{At: env.Now, Delta: desired - target.Replicas})
		status.LastScaleTime = &metav1.Time{Time: env.Now}
		setCondition(&status, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", res.Reason, env.Now)
	} else {
		setCondition(&status, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size", env.Now)
	}
	res.Status = status
	return res
}

// propose is the largest replica count over the metrics, with the
// metric values that gave it.
func propose(hpa *autoscalingv2.HorizontalPodAutoscaler, target Target, env Env) (int32, []autoscalingv2.MetricStatus, string, error) {
	if len(hpa.Spec.Metrics) == 0 {
		return 0, nil, "", fmt.Errorf("no metrics: spec.metrics is empty")
	}
	var best int32 = -1
	var statuses []autoscalingv2.MetricStatus
	var whys []string
	for i, m := range hpa.Spec.Metrics {
		if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil {
			return 0, statuses, "", fmt.Errorf("spec.metrics[%d].type %s: not supported yet (only Resource)", i, m.Type)
		}
		n, ms, why, err := resourceReplicas(m.Resource, target, env.Metrics)
		if err != nil {
			return 0, statuses, "", fmt.Errorf("spec.metrics[%d]: %w", i, err)
		}
		statuses = append(statuses, ms)
		if n > best {
			best, whys = n, []string{why}
		}
	}
	return best, statuses, strings.Join(whys, ", "), nil
}

// resourceReplicas applies one Resource metric (cpu or memory) to the
// running pods that have a sample.
func resourceReplicas(src *autoscalingv2.ResourceMetricSource, target Target, samples map[string]PodMetric) (int32, autoscalingv2.MetricStatus, string, error) {
	var usage, request int64
	measured := 0
	for _, p := range target.Pods {
		s, ok := samples[p.Name]
		if !ok || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		measured++
		req, ok := podRequest(p, src.Name)
		if !ok && src.Target.Type == autoscalingv2.UtilizationMetricType {
			return 0, autoscalingv2.MetricStatus{}, "", fmt.Errorf("missing request for %s in pod %s", src.Name, p.Name)
		}
		request += req
		switch src.Name {
		case corev1.ResourceCPU:
			usage += s.CPUMillicores
		case corev1.ResourceMemory:
			usage += s.MemoryBytes
		default:
			return 0, autoscalingv2.MetricStatus{}, "", fmt.Errorf("resource %s: only cpu and memory", src.Name)
		}
	}
	if measured == 0 {
		return 0, autoscalingv2.MetricStatus{}, "", fmt.Errorf("no metrics yet for the pods of the target (%s)", src.Name)
	}
	cur := autoscalingv2.MetricValueStatus{AverageValue: quantity(src.Name, usage/int64(measured))}
	ms := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: src.Name, Current: cur}}
	var ratio float64
	var why string
	switch src.Target.Type {
	case autoscalingv2.UtilizationMetricType:
		if src.Target.AverageUtilization == nil || request == 0 {
			return 0, ms, "", fmt.Errorf("target.averageUtilization and pod requests for %s are required", src.Name)
		}
		util := int32(usage * 100 / request)
		ms.Resource.Current.AverageUtilization = &util
		ratio = float64(util) / float64(*src.Target.AverageUtilization)
		why = fmt.Sprintf("%s resource utilization (percentage of request) %d%% (%s of %s requested over %d pods) vs %d%%",
			src.Name, util, quantity(src.Name, usage).String(), quantity(src.Name, request).String(), measured, *src.Target.AverageUtilization)
	case autoscalingv2.AverageValueMetricType:
		if src.Target.AverageValue == nil || src.Target.AverageValue.IsZero() {
			return 0, ms, "", fmt.Errorf("target.averageValue for %s is required", src.Name)
		}
		want := src.Target.AverageValue.MilliValue()
		if src.Name == corev1.ResourceMemory {
			want = src.Target.AverageValue.Value()
		}
		ratio = float64(usage) / float64(measured) / float64(want)
		why = fmt.Sprintf("%s resource average value %s over %d pods vs %s", src.Name, cur.AverageValue.String(), measured, src.Target.AverageValue.String())
	default:
		return 0, ms, "", fmt.Errorf("target.type %s: not supported for Resource metrics", src.Target.Type)
	}
	if math.Abs(ratio-1) <= tolerance {
		return target.Replicas, ms, why, nil
	}
	return int32(math.Ceil(ratio * float64(measured))), ms, why, nil
}
