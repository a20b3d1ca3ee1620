package hpa

import (
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rules are one direction's behavior, Kubernetes' defaults filled in.
func rules(hpa *autoscalingv2.HorizontalPodAutoscaler, up bool) autoscalingv2.HPAScalingRules {
	var r *autoscalingv2.HPAScalingRules
	if b := hpa.Spec.Behavior; b != nil {
		if up {
			r = b.ScaleUp
		} else {
			r = b.ScaleDown
		}
	}
	out := autoscalingv2.HPAScalingRules{}
	if r != nil {
		out = *r.DeepCopy()
	}
	if out.StabilizationWindowSeconds == nil {
		w := int32(0)
		if !up {
			w = int32(defaultDownWindow / time.Second)
		}
		out.StabilizationWindowSeconds = &w
	}
	if out.SelectPolicy == nil {
		p := autoscalingv2.MaxChangePolicySelect
		out.SelectPolicy = &p
	}
	if len(out.Policies) == 0 {
		period := int32(defaultPeriod / time.Second)
		out.Policies = []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: period}}
		if up {
			out.Policies = append(out.Policies, autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: period})
		}
	}
	return out
}

func window(r autoscalingv2.HPAScalingRules) time.Duration {
	return time.Duration(*r.StabilizationWindowSeconds) * time.Second
}

// normalize applies the stabilization windows, the rate policies and the
// replica bounds to a proposal; limited says what held it back.
func normalize(hpa *autoscalingv2.HorizontalPodAutoscaler, current, proposal int32, st State, now time.Time) (int32, string) {
	upRules, downRules := rules(hpa, true), rules(hpa, false)
	upRec, downRec := proposal, proposal
	for _, r := range st.Recommendations {
		if now.Sub(r.At) <= window(upRules) {
			upRec = min(upRec, r.Replicas)
		}
		if now.Sub(r.At) <= window(downRules) {
			downRec = max(downRec, r.Replicas)
		}
	}
	desired := current
	desired = max(desired, upRec)
	desired = min(desired, downRec)
	limited := ""
	if desired != proposal {
		limited = fmt.Sprintf("stabilized: recommendation %d held at %d by the stabilization window", proposal, desired)
	}
	if desired > current {
		if lim := upLimit(upRules, current, st.Events, now); desired > lim {
			desired, limited = lim, fmt.Sprintf("scale-up limited to %d by behavior.scaleUp policies", lim)
		}
	} else if desired < current {
		if lim := downLimit(downRules, current, st.Events, now); desired < lim {
			desired, limited = lim, fmt.Sprintf("scale-down limited to %d by behavior.scaleDown policies", lim)
		}
	}
	lo := int32(1)
	if hpa.Spec.MinReplicas != nil {
		lo = *hpa.Spec.MinReplicas
	}
	switch {
	case desired > hpa.Spec.MaxReplicas:
		desired, limited = hpa.Spec.MaxReplicas, fmt.Sprintf("the desired replica count is more than the maximum replica count %d", hpa.Spec.MaxReplicas)
	case desired < lo:
		desired, limited = lo, fmt.Sprintf("the desired replica count is less than the minimum replica count %d", lo)
	}
	return desired, limited
}

func changedIn(events []ScaleEvent, period time.Duration, now time.Time, up bool) int32 {
	var n int32
	for _, e := range events {
		if now.Sub(e.At) <= period && (e.Delta > 0) == up {
			n += e.Delta
		}
	}
	return n
}

func upLimit(r autoscalingv2.HPAScalingRules, current int32, events []ScaleEvent, now time.Time) int32 {
	if *r.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	var out int32 = -1
	for _, p := range r.Policies {
		start := current - changedIn(events, time.Duration(p.PeriodSeconds)*time.Second, now, true)
		lim := start + p.Value
		if p.Type == autoscalingv2.PercentScalingPolicy {
			lim = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		if out < 0 || *r.SelectPolicy == autoscalingv2.MaxChangePolicySelect && lim > out || *r.SelectPolicy == autoscalingv2.MinChangePolicySelect && lim < out {
			out = lim
		}
	}
	return out
}

func downLimit(r autoscalingv2.HPAScalingRules, current int32, events []ScaleEvent, now time.Time) int32 {
	if *r.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	var out int32 = -1
	for _, p := range r.Policies {
		start := current - changedIn(events, time.Duration(p.PeriodSeconds)*time.Second, now, false) // events are negative
		lim := start - p.Value
		if p.Type == autoscalingv2.PercentScalingPolicy {
			lim = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if out < 0 || *r.SelectPolicy == autoscalingv2.MaxChangePolicySelect && lim < out || *r.SelectPolicy == autoscalingv2.MinChangePolicySelect && lim > out {
			out = lim
		}
	}
	return max(out, 0)
}

// prune drops what no window or policy period still needs.
func prune(st State, now time.Time, hpa *autoscalingv2.HorizontalPodAutoscaler) State {
	keep := max(window(rules(hpa, true)), window(rules(hpa, false)))
	var longest time.Duration
	for _, up := range []bool{true, false} {
		for _, p := range rules(hpa, up).Policies {
			longest = max(longest, time.Duration(p.PeriodSeconds)*time.Second)
		}
	}
	out := State{}
	for _, r := range st.Recommendations {
		if now.Sub(r.At) <= keep {
			out.Recommendations = append(out.Recommendations, r)
		}
	}
	for _, e := range st.Events {
		if now.Sub(e.At) <= longest {
			out.Events = append(out.Events, e)
		}
	}
	return out
}

// podRequest sums the containers' requests of a resource (cpu in
// millicores, memory in bytes); false if a container has none.
func podRequest(p *corev1.Pod, name corev1.ResourceName) (int64, bool) {
	var sum int64
	for _, c := range p.Spec.Containers {
		q, ok := c.Resources.Requests[name]
		if !ok {
			return 0, false
		}
		if name == corev1.ResourceCPU {
			sum += q.MilliValue()
		} else {
			sum += q.Value()
		}
	}
	return sum, true
}

func quantity(name corev1.ResourceName, v int64) *resource.Quantity {
	if name == corev1.ResourceCPU {
		return resource.NewMilliQuantity(v, resource.DecimalSI)
	}
	return resource.NewQuantity(v, resource.BinarySI)
}

func setCondition(st *autoscalingv2.HorizontalPodAutoscalerStatus, t autoscalingv2.HorizontalPodAutoscalerConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) {
	st.Conditions = append(st.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now)})
}
