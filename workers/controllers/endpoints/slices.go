package endpoints

import (
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxNameLen is the DNS label limit object names obey.
const maxNameLen = 63

// buildSlices cuts a group into slices of at most MaxEndpointsPerSlice.
func buildSlices(svc *corev1.Service, g *group) []*discoveryv1.EndpointSlice {
	key := groupKey(g.addressType, g.ports)
	var out []*discoveryv1.EndpointSlice
	for i := 0; i == 0 || i*MaxEndpointsPerSlice < len(g.endpoints); i++ {
		end := min((i+1)*MaxEndpointsPerSlice, len(g.endpoints))
		eps := g.endpoints[i*MaxEndpointsPerSlice : end]
		out = append(out, newSlice(svc, g, SliceName(svc.Name, key, i), eps))
	}
	return out
}

func newSlice(svc *corev1.Service, g *group, name string, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	ctrl := true
	return &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: svc.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   ManagedBy,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: &ctrl,
			}},
		},
		AddressType: g.addressType,
		Endpoints:   append([]discoveryv1.Endpoint(nil), eps...),
		Ports:       append([]discoveryv1.EndpointPort(nil), g.ports...),
	}
}

// SliceName is the stable name of chunk i of the group with the given key:
// <service>-<hash of address type and ports>-<i>, the service part cut so
// the whole fits in 63 characters.
func SliceName(service, key string, i int) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	suffix := fmt.Sprintf("-%08x-%d", h.Sum32(), i)
	if len(service)+len(suffix) > maxNameLen {
		service = service[:maxNameLen-len(suffix)]
	}
	return service + suffix
}
