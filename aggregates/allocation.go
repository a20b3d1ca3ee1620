package aggregates

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
)

// Allocation rules. A service's cluster IP, node ports and load-balancer
// IPs are each held by a reservation: an aggregate of its own, one subject
// per resource (kind "ipaddress", name the IP; kind "nodeport", name the
// port number), created with the subject's expected last sequence, so two
// services can never hold one resource however their commands interleave.
// A reservation is owned by one service (namespace, name, UID). It is
// released (deleted) when its service lets go of it or is deleted. A
// reservation whose owner is gone, or no longer uses it, is stale and may
// be taken over once it is older than a grace period (the owner's own
// command may still be in flight within it); a service may always take
// over one held under its own name (an earlier incarnation whose release
// was lost).
//
// Reservations are never commands: only the command service writes them,
// as part of deciding a Service command.

// Reservation kinds (event-subject tokens).
const (
	IPAddressToken = "ipaddress"
	NodePortToken  = "nodeport"
)

// AllocatorManagedBy labels reservations the command service wrote.
const AllocatorManagedBy = "gantry.dev/service-allocator"

// ErrAllocated: the resource is held by another service.
var ErrAllocated = errors.New("already allocated")

// Owner is the service a reservation belongs to.
type Owner struct {
	Namespace, Name string
	UID             string
}

// NodePortReservation holds one node port for a service. There is no
// upstream kind for it; it mirrors IPAddress.
type NodePortReservation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              NodePortReservationSpec `json:"spec"`
}

// NodePortReservationSpec names the service holding the port.
type NodePortReservationSpec struct {
	ParentRef *networkingv1.ParentReference `json:"parentRef"`
}

// Reservation is the part of a stored reservation the rules read.
type Reservation struct {
	Owner   Owner
	Created time.Time
}

// ParseReservation reads a stored IPAddress or NodePortReservation.
func ParseReservation(raw []byte) (Reservation, error) {
	var r struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			ParentRef *networkingv1.ParentReference `json:"parentRef"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return Reservation{}, fmt.Errorf("aggregates: reservation: %w", err)
	}
	out := Reservation{Created: r.Metadata.CreationTimestamp.Time}
	if p := r.Spec.ParentRef; p != nil {
		out.Owner.Namespace, out.Owner.Name = p.Namespace, p.Name
	}
	for _, o := range r.Metadata.OwnerReferences {
		if o.Kind == "Service" {
			out.Owner.UID = string(o.UID)
		}
	}
	return out, nil
}

// NewReservation is the created event's object for resource name of kind
// token (IPAddressToken or NodePortToken), owned by o.
func NewReservation(token, name string, o Owner, now time.Time) Event {
	meta := metav1.ObjectMeta{
		Name:              name,
		Labels:            map[string]string{"ipaddress.kubernetes.io/managed-by": AllocatorManagedBy},
		CreationTimestamp: metav1.NewTime(now.UTC()),
		OwnerReferences:   []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: o.Name, UID: k8stypes.UID(o.UID)}},
	}
	parent := &networkingv1.ParentReference{Resource: "services", Namespace: o.Namespace, Name: o.Name}
	if token == IPAddressToken {
		obj := networkingv1.IPAddress{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IPAddress"},
			ObjectMeta: meta, Spec: networkingv1.IPAddressSpec{ParentRef: parent}}
		return Event{Verb: Created, Data: mustJSON(obj)}
	}
	obj := NodePortReservation{TypeMeta: metav1.TypeMeta{APIVersion: "gantry.dev/v1", Kind: "NodePortReservation"},
		ObjectMeta: meta, Spec: NodePortReservationSpec{ParentRef: parent}}
	return Event{Verb: Created, Data: mustJSON(obj)}
}

// ReleaseReservation is the event that frees a reservation.
func ReleaseReservation() Event { return Event{Verb: Deleted, Data: mustJSON(DeletedData{})} }

// DecideReserve decides whether o may take the resource whose reservation
// is held (absent: free). holder is the current state of the service named
// by the reservation (absent if gone). It returns the event to append (nil
// when o already holds it) or ErrAllocated.
func DecideReserve(token, name string, held State, o Owner, holder State, now time.Time, grace time.Duration) (*Event, error) {
	if !held.Exists() {
		e := NewReservation(token, name, o, now)
		return &e, nil
	}
	r, err := ParseReservation(held.Raw)
	if err != nil {
		return nil, err
	}
	if r.Owner.UID == o.UID && r.Owner.Namespace == o.Namespace && r.Owner.Name == o.Name {
		return nil, nil
	}
	if !stale(token, name, r, o, holder, now, grace) {
		return nil, ErrAllocated
	}
	e := NewReservation(token, name, o, now)
	return &e, nil
}

// stale: the reservation's owner cannot be using it any more.
func stale(token, name string, r Reservation, o Owner, holder State, now time.Time, grace time.Duration) bool {
	if r.Owner.Namespace == o.Namespace && r.Owner.Name == o.Name {
		return true // an earlier incarnation under the same name: commands on one service are serialised
	}
	old := now.Sub(r.Created) > grace
	if !holder.Exists() {
		return old
	}
	var svc corev1.Service
	if err := json.Unmarshal(holder.Raw, &svc); err != nil {
		return false
	}
	if string(svc.UID) != r.Owner.UID {
		return true // the service was deleted and created again: a new owner
	}
	return old && !ServiceClaims(&svc).Holds(token, name)
}

// Claims are the resources a service uses.
type Claims struct {
	ClusterIPs      []string
	NodePorts       []int32
	LoadBalancerIPs []string
}

// ServiceClaims lists what svc holds: its cluster IPs (not "None"), the
// node ports of a NodePort or LoadBalancer service, and its load-balancer
// ingress IPs.
func ServiceClaims(svc *corev1.Service) Claims {
	var c Claims
	if svc == nil {
		return c
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		for _, ip := range clusterIPsOf(svc) {
			if ip != "" && ip != corev1.ClusterIPNone {
				c.ClusterIPs = append(c.ClusterIPs, ip)
			}
		}
	}
	if usesNodePorts(svc) {
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 && !containsInt(c.NodePorts, p.NodePort) {
				c.NodePorts = append(c.NodePorts, p.NodePort)
			}
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				c.LoadBalancerIPs = append(c.LoadBalancerIPs, in.IP)
			}
		}
	}
	return c
}

// Holds reports whether the claims include resource name of kind token.
func (c Claims) Holds(token, name string) bool {
	switch token {
	case IPAddressToken:
		return containsStr(c.ClusterIPs, name) || containsStr(c.LoadBalancerIPs, name)
	case NodePortToken:
		for _, p := range c.NodePorts {
			if fmt.Sprint(p) == name {
				return true
			}
		}
	}
	return false
}

// Resources lists the claims as (token, name) pairs, each once.
func (c Claims) Resources() [][2]string {
	var out [][2]string
	seen := map[[2]string]bool{}
	add := func(r [2]string) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, ip := range append(append([]string(nil), c.ClusterIPs...), c.LoadBalancerIPs...) {
		add([2]string{IPAddressToken, canonicalIP(ip)})
	}
	for _, p := range c.NodePorts {
		add([2]string{NodePortToken, fmt.Sprint(p)})
	}
	return out
}

// canonicalIP is the reservation name of an IP.
func canonicalIP(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.String()
	}
	return ip
}

func usesNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

func clusterIPsOf(svc *corev1.Service) []string {
	if len(svc.Spec.ClusterIPs) > 0 {
		return svc.Spec.ClusterIPs
	}
	return []string{svc.Spec.ClusterIP}
}

func containsInt(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// WithLoadBalancer returns the service event e with status.loadBalancer set
// to ips (none: cleared). The allocator decorates the created or updated
// event of a LoadBalancer service so its address arrives with it.
func WithLoadBalancer(e Event, ips []string) (Event, error) {
	lb := map[string]any{}
	if len(ips) > 0 {
		var ing []map[string]string
		for _, ip := range ips {
			ing = append(ing, map[string]string{"ip": ip, "ipMode": "VIP"})
		}
		lb["ingress"] = ing
	}
	switch e.Verb {
	case Created:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(e.Data, &obj); err != nil {
			return e, fmt.Errorf("aggregates: created service: %w", err)
		}
		obj["status"] = mustJSON(map[string]any{"loadBalancer": lb})
		return Event{Verb: Created, Data: mustJSON(obj)}, nil
	case Updated:
		var d UpdatedData
		if err := unmarshalData(e, &d); err != nil {
			return e, err
		}
		var patch map[string]json.RawMessage
		if err := json.Unmarshal(d.Patch, &patch); err != nil {
			return e, fmt.Errorf("aggregates: updated service: %w", err)
		}
		var lbPatch any = lb
		if len(ips) == 0 {
			lbPatch = nil
		}
		patch["status"] = mustJSON(map[string]any{"loadBalancer": lbPatch})
		return Event{Verb: Updated, Data: mustJSON(UpdatedData{Patch: mustJSON(patch)})}, nil
	}
	return e, nil
}
