package endpoints

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// ManagedBy is the value of the managed-by label on the slices this
// controller owns.
const ManagedBy = "endpointslice-controller.gantry.dev"

// MaxEndpointsPerSlice bounds the endpoints in one slice, as upstream does.
const MaxEndpointsPerSlice = 100

// Compute returns the EndpointSlices for svc given the pods of its
// namespace. Services without a selector (manually managed endpoints) and
// ExternalName services get none. The result is deterministic: the same
// inputs give the same slices, names and order.
func Compute(svc *corev1.Service, pods []*corev1.Pod) []*discoveryv1.EndpointSlice {
	if svc == nil || len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	groups := groupEndpoints(svc, selectPods(svc, pods))
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []*discoveryv1.EndpointSlice
	for _, k := range keys {
		out = append(out, buildSlices(svc, groups[k])...)
	}
	return out
}

// selectPods keeps the pods of svc's namespace that match its selector, have
// an IP and are not finished, sorted by name.
func selectPods(svc *corev1.Service, pods []*corev1.Pod) []*corev1.Pod {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var out []*corev1.Pod
	for _, p := range pods {
		if p == nil || p.Namespace != svc.Namespace || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if p.Status.PodIP == "" || isFinished(p) {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func isFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}
