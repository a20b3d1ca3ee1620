package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
)

// columns of one kind: headers, wide-only headers, and the row of an object.
type columns struct {
	head, wide []string
	row        func(raw []byte) (cells, wideCells []string, err error)
}

var tables = map[string]columns{
	"namespace": {head: []string{"STATUS"}, row: typed(func(o *corev1.Namespace) ([]string, []string) {
		if o.DeletionTimestamp != nil {
			return []string{string(corev1.NamespaceTerminating)}, nil
		}
		return []string{string(o.Status.Phase)}, nil
	})},
	"configmap": {head: []string{"DATA"}, row: typed(func(o *corev1.ConfigMap) ([]string, []string) {
		return []string{fmt.Sprint(len(o.Data) + len(o.BinaryData))}, nil
	})},
	"secret": {head: []string{"TYPE", "DATA"}, row: typed(func(o *corev1.Secret) ([]string, []string) {
		return []string{string(o.Type), fmt.Sprint(len(o.Data))}, nil
	})},
	"pod": {head: []string{"READY", "STATUS", "RESTARTS"}, wide: []string{"IP", "NODE"}, row: typed(podRow)},
	"replicaset": {head: []string{"DESIRED", "CURRENT", "READY"}, row: typed(func(o *appsv1.ReplicaSet) ([]string, []string) {
		return []string{fmt.Sprint(deref(o.Spec.Replicas)), fmt.Sprint(o.Status.Replicas), fmt.Sprint(o.Status.ReadyReplicas)}, nil
	})},
	"deployment": {head: []string{"READY", "UP-TO-DATE", "AVAILABLE"}, row: typed(func(o *appsv1.Deployment) ([]string, []string) {
		return []string{fmt.Sprintf("%d/%d", o.Status.ReadyReplicas, deref(o.Spec.Replicas)), fmt.Sprint(o.Status.UpdatedReplicas), fmt.Sprint(o.Status.AvailableReplicas)}, nil
	})},
	"service":       {head: []string{"TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"}, wide: []string{"SELECTOR"}, row: typed(serviceRow)},
	"endpointslice": {head: []string{"ADDRESSTYPE", "PORTS", "ENDPOINTS"}, row: typed(endpointSliceRow)},
	"ingress":       {head: []string{"CLASS", "HOSTS", "ADDRESS", "PORTS"}, row: typed(ingressRow)},
}

// typed adapts a row function over a typed object.
func typed[T any, P interface {
	*T
	metav1.Object
}](f func(P) ([]string, []string)) func([]byte) ([]string, []string, error) {
	return func(raw []byte) ([]string, []string, error) {
		o := P(new(T))
		if err := json.Unmarshal(raw, o); err != nil {
			return nil, nil, err
		}
		c, w := f(o)
		return c, w, nil
	}
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func podRow(o *corev1.Pod) ([]string, []string) {
	ready, restarts, status := projections.PodSummary(o)
	ip, node := or(o.Status.PodIP, "<none>"), or(o.Spec.NodeName, "<none>")
	return []string{fmt.Sprintf("%d/%d", ready, len(o.Spec.Containers)), status, fmt.Sprint(restarts)}, []string{ip, node}
}

// serviceRow follows kubectl: CLUSTER-IP "None" for headless and <none>
// for ExternalName; EXTERNAL-IP the external name, or the external and
// load-balancer addresses, <pending> for a LoadBalancer without one;
// PORT(S) port[:nodePort]/protocol.
func serviceRow(o *corev1.Service) ([]string, []string) {
	var ports []string
	for _, p := range o.Spec.Ports {
		s := fmt.Sprintf("%d", p.Port)
		if p.NodePort != 0 {
			s += fmt.Sprintf(":%d", p.NodePort)
		}
		ports = append(ports, s+"/"+string(p.Protocol))
	}
	clusterIP := or(o.Spec.ClusterIP, "<none>")
	ext := append([]string(nil), o.Spec.ExternalIPs...)
	for _, in := range o.Status.LoadBalancer.Ingress {
		ext = append(ext, or(in.IP, in.Hostname))
	}
	external := or(strings.Join(ext, ","), "<none>")
	switch o.Spec.Type {
	case corev1.ServiceTypeExternalName:
		clusterIP, external = "<none>", o.Spec.ExternalName
	case corev1.ServiceTypeLoadBalancer:
		external = or(strings.Join(ext, ","), "<pending>")
	}
	var sel []string
	for k, v := range o.Spec.Selector {
		sel = append(sel, k+"="+v)
	}
	sort.Strings(sel)
	return []string{string(o.Spec.Type), clusterIP, external, or(strings.Join(ports, ","), "<none>")}, []string{or(strings.Join(sel, ","), "<none>")}
}

// endpointSliceRow follows kubectl: the ports, and up to three addresses
// then "+ N more...".
func endpointSliceRow(o *discoveryv1.EndpointSlice) ([]string, []string) {
	var ports []string
	for _, p := range o.Ports {
		if p.Port != nil {
			ports = append(ports, fmt.Sprint(*p.Port))
		}
	}
	var addrs []string
	for _, e := range o.Endpoints {
		addrs = append(addrs, e.Addresses...)
	}
	eps := "<unset>"
	if len(addrs) > 0 {
		eps = strings.Join(addrs[:min(3, len(addrs))], ",")
		if len(addrs) > 3 {
			eps += fmt.Sprintf(" + %d more...", len(addrs)-3)
		}
	}
	return []string{string(o.AddressType), or(strings.Join(ports, ","), "<unset>"), eps}, nil
}

// ingressRow follows kubectl: CLASS, HOSTS (* for rules without one),
// ADDRESS from status, PORTS 80 or "80, 443" with TLS.
func ingressRow(o *networkingv1.Ingress) ([]string, []string) {
	class := "<none>"
	if o.Spec.IngressClassName != nil {
		class = *o.Spec.IngressClassName
	}
	var hosts []string
	for _, r := range o.Spec.Rules {
		hosts = append(hosts, or(r.Host, "*"))
	}
	var addrs []string
	for _, in := range o.Status.LoadBalancer.Ingress {
		addrs = append(addrs, or(in.IP, in.Hostname))
	}
	ports := "80"
	if len(o.Spec.TLS) > 0 {
		ports = "80, 443"
	}
	return []string{class, or(strings.Join(hosts, ","), "*"), strings.Join(addrs, ","), ports}, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// tableOpts are get's flags that shape a table: a NAMESPACE column first
// (-A), the wide columns (-o wide), a LABELS column last (--show-labels).
type tableOpts struct{ withNS, wide, labels bool }

// printTable prints objects as kubectl does: NAME first, AGE after the
// kind's columns, wide columns, then labels, last.
func printTable(out io.Writer, k *aggregates.Kind, items []json.RawMessage, o tableOpts) error {
	head, rows, err := tableRows(k, items, o)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	for _, row := range append([][]string{head}, rows...) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// tableRows is printTable's header and rows, one per object.
func tableRows(k *aggregates.Kind, items []json.RawMessage, o tableOpts) (head []string, rows [][]string, err error) {
	cols, ok := tables[k.Token]
	if !ok {
		cols = moreTables[k.Token]
	}
	head = []string{"NAME"}
	if o.withNS {
		head = append([]string{"NAMESPACE"}, head...)
	}
	head = append(append(head, cols.head...), "AGE")
	if o.wide {
		head = append(head, cols.wide...)
	}
	if o.labels {
		head = append(head, "LABELS")
	}
	for _, raw := range items {
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, nil, err
		}
		row := []string{meta.Metadata.Name}
		if o.withNS {
			row = append([]string{meta.Metadata.Namespace}, row...)
		}
		var cells, wideCells []string
		if cols.row != nil {
			if cells, wideCells, err = cols.row(raw); err != nil {
				return nil, nil, err
			}
		}
		row = append(append(row, cells...), age(meta.Metadata.CreationTimestamp))
		if o.wide {
			row = append(row, wideCells...)
		}
		if o.labels {
			row = append(row, labelList(meta.Metadata.Labels))
		}
		rows = append(rows, row)
	}
	return head, rows, nil
}

// labelList is kubectl's LABELS cell: k=v pairs by key, or <none>.
func labelList(labels map[string]string) string {
	if len(labels) == 0 {
		return "<none>"
	}
	pairs := make([]string, 0, len(labels))
	for k, v := range labels {
		pairs = append(pairs, k+"="+v)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}
