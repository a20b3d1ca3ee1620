package daemonset

import (
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// status counts nodes, not pods: a node is scheduled when a daemon pod
// targets it; misscheduled when it has one but should not.
func status(ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod, now time.Time) appsv1.DaemonSetStatus {
	byNode := groupByNode(pods)
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, CollisionCount: ds.Status.CollisionCount, Conditions: ds.Status.Conditions}
	for _, node := range nodes {
		place := placementOn(&ds.Spec.Template.Spec, node)
		active := byNode[node.Name].active
		switch {
		case place.run:
			st.DesiredNumberScheduled++
		case len(active) > 0:
			st.NumberMisscheduled++
		}
		if !place.run || len(active) == 0 {
			if place.run {
				st.NumberUnavailable++
			}
			continue
		}
		st.CurrentNumberScheduled++
		p := active[0]
		if currentGeneration(ds, p) {
			st.UpdatedNumberScheduled++
		}
		if podReady(p) {
			st.NumberReady++
		}
		if podAvailable(p, ds.Spec.MinReadySeconds, now) {
			st.NumberAvailable++
		} else {
			st.NumberUnavailable++
		}
	}
	return st
}

// rollingDeletes picks old-generation pods to replace: unavailable ones
// freely, available ones while fewer than maxUnavailable (default 1, a
// percentage of desired nodes rounding up) daemons are unavailable.
func rollingDeletes(ds *appsv1.DaemonSet, nodes []*corev1.Node, pods, already []*corev1.Pod, now time.Time) []*corev1.Pod {
	if ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType || ds.DeletionTimestamp != nil {
		return nil
	}
	st := status(ds, nodes, pods, now)
	budget := maxUnavailable(ds, int(st.DesiredNumberScheduled)) - int(st.NumberUnavailable)
	var out []*corev1.Pod
	for _, p := range pods {
		if currentGeneration(ds, p) || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending || slices.Contains(already, p) {
			continue
		}
		if !podAvailable(p, ds.Spec.MinReadySeconds, now) {
			out = append(out, p)
			continue
		}
		if budget > 0 {
			out = append(out, p)
			budget--
		}
	}
	return out
}

func maxUnavailable(ds *appsv1.DaemonSet, desired int) int {
	v := intstr.FromInt32(1)
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		v = *ru.MaxUnavailable
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, desired, true)
	if err != nil {
		return 1
	}
	return n
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return minReadySeconds == 0 || c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
		}
	}
	return false
}
