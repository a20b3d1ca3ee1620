package dashboard

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/gantry-sh/gantry/projections"
)

// Cell is one table cell; Tone ("ok", "warn", "bad" or "") colours it, and
// the text always says the same, so colour is never the only signal.
type Cell struct {
	Text string `json:"text"`
	Tone string `json:"tone,omitempty"`
}

// columns are a kind's status columns, as `gantry get` shows them.
type columns struct {
	head []string
	row  func(raw []byte) ([]Cell, error)
}

// kindColumns by kind token; a kind not here shows name, namespace and age.
var kindColumns = map[string]columns{
	"pod":           {[]string{"Ready", "Status", "Restarts", "Node", "IP"}, typed(podCells)},
	"deployment":    {[]string{"Ready", "Up-to-date", "Available"}, typed(deploymentCells)},
	"replicaset":    {[]string{"Desired", "Current", "Ready"}, typed(replicaSetCells)},
	"daemonset":     {[]string{"Desired", "Current", "Ready"}, typed(daemonSetCells)},
	"statefulset":   {[]string{"Ready"}, typed(statefulSetCells)},
	"job":           {[]string{"Completions", "Status"}, typed(jobCells)},
	"cronjob":       {[]string{"Schedule", "Suspend", "Active"}, typed(cronJobCells)},
	"service":       {[]string{"Type", "Cluster-IP", "Ports"}, typed(serviceCells)},
	"node":          {[]string{"Status", "Address", "Pod CIDR"}, typed(nodeCells)},
	"namespace":     {[]string{"Status"}, typed(namespaceCells)},
	"configmap":     {[]string{"Data"}, typed(func(o *corev1.ConfigMap) []Cell { return plain(fmt.Sprint(len(o.Data) + len(o.BinaryData))) })},
	"secret":        {[]string{"Type", "Data"}, typed(func(o *corev1.Secret) []Cell { return plain(string(o.Type), fmt.Sprint(len(o.Data))) })},
	"endpointslice": {[]string{"Address type", "Ports", "Endpoints"}, typed(endpointSliceCells)},
	"ingress":       {[]string{"Class", "Hosts"}, typed(ingressCells)},
}

// typed adapts a cell function over a typed object.
func typed[T any](f func(*T) []Cell) func([]byte) ([]Cell, error) {
	return func(raw []byte) ([]Cell, error) {
		o := new(T)
		if err := json.Unmarshal(raw, o); err != nil {
			return nil, err
		}
		return f(o), nil
	}
}

func plain(texts ...string) []Cell {
	out := make([]Cell, len(texts))
	for i, t := range texts {
		out[i] = Cell{Text: t}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func deref(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// ratio is "ready/want", toned by whether all are ready.
func ratio(ready, want int32) Cell {
	c := Cell{Text: fmt.Sprintf("%d/%d", ready, want), Tone: "ok"}
	if ready < want {
		c.Tone = "warn"
	}
	return c
}

func podCells(o *corev1.Pod) []Cell {
	ready, restarts, status := projections.PodSummary(o)
	return []Cell{
		ratio(ready, int32(len(o.Spec.Containers))),
		{Text: status, Tone: podTone(status)},
		{Text: fmt.Sprint(restarts)},
		{Text: orNone(o.Spec.NodeName)},
		{Text: orNone(o.Status.PodIP)},
	}
}

func podTone(status string) string {
	switch status {
	case "Running", "Succeeded", "Completed":
		return "ok"
	case "Pending", "ContainerCreating", "Terminating":
		return "warn"
	}
	return "bad"
}

func deploymentCells(o *appsv1.Deployment) []Cell {
	want := deref(o.Spec.Replicas, 1)
	return []Cell{ratio(o.Status.ReadyReplicas, want), {Text: fmt.Sprint(o.Status.UpdatedReplicas)}, {Text: fmt.Sprint(o.Status.AvailableReplicas)}}
}

func replicaSetCells(o *appsv1.ReplicaSet) []Cell {
	return []Cell{{Text: fmt.Sprint(deref(o.Spec.Replicas, 1))}, {Text: fmt.Sprint(o.Status.Replicas)}, ratio(o.Status.ReadyReplicas, deref(o.Spec.Replicas, 1))}
}

func daemonSetCells(o *appsv1.DaemonSet) []Cell {
	s := o.Status
	return []Cell{{Text: fmt.Sprint(s.DesiredNumberScheduled)}, {Text: fmt.Sprint(s.CurrentNumberScheduled)}, ratio(s.NumberReady, s.DesiredNumberScheduled)}
}

func statefulSetCells(o *appsv1.StatefulSet) []Cell {
	return []Cell{ratio(o.Status.ReadyReplicas, deref(o.Spec.Replicas, 1))}
}

func jobCells(o *batchv1.Job) []Cell {
	status := Cell{Text: "Running", Tone: "warn"}
	for _, c := range o.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			status = Cell{Text: "Complete", Tone: "ok"}
		case batchv1.JobFailed:
			status = Cell{Text: "Failed", Tone: "bad"}
		}
	}
	return []Cell{{Text: fmt.Sprintf("%d/%d", o.Status.Succeeded, deref(o.Spec.Completions, 1))}, status}
}

func cronJobCells(o *batchv1.CronJob) []Cell {
	suspend := o.Spec.Suspend != nil && *o.Spec.Suspend
	return plain(o.Spec.Schedule, fmt.Sprint(suspend), fmt.Sprint(len(o.Status.Active)))
}

func serviceCells(o *corev1.Service) []Cell {
	var ports []string
	for _, p := range o.Spec.Ports {
		s := fmt.Sprint(p.Port)
		if p.NodePort != 0 {
			s += fmt.Sprintf(":%d", p.NodePort)
		}
		ports = append(ports, s+"/"+string(p.Protocol))
	}
	typ := o.Spec.Type
	if typ == "" {
		typ = corev1.ServiceTypeClusterIP
	}
	return plain(string(typ), orNone(o.Spec.ClusterIP), orNone(strings.Join(ports, ",")))
}

func nodeCells(o *corev1.Node) []Cell {
	status := Cell{Text: "Unknown", Tone: "warn"}
	for _, c := range o.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			status = Cell{Text: "Ready", Tone: "ok"}
		case corev1.ConditionFalse:
			status = Cell{Text: "NotReady", Tone: "bad"}
		}
	}
	if o.Spec.Unschedulable {
		status.Text += ",SchedulingDisabled"
	}
	addr := ""
	for _, a := range o.Status.Addresses {
		if a.Type == corev1.NodeInternalIP || addr == "" {
			addr = a.Address
		}
	}
	return []Cell{status, {Text: orNone(addr)}, {Text: orNone(o.Spec.PodCIDR)}}
}

func namespaceCells(o *corev1.Namespace) []Cell {
	phase := string(o.Status.Phase)
	if phase == "" {
		phase = string(corev1.NamespaceActive)
	}
	tone := "ok"
	if o.Status.Phase == corev1.NamespaceTerminating {
		tone = "warn"
	}
	return []Cell{{Text: phase, Tone: tone}}
}

func endpointSliceCells(o *discoveryv1.EndpointSlice) []Cell {
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
	return plain(string(o.AddressType), orNone(strings.Join(ports, ",")), orNone(strings.Join(addrs, ",")))
}

func ingressCells(o *networkingv1.Ingress) []Cell {
	class := ""
	if o.Spec.IngressClassName != nil {
		class = *o.Spec.IngressClassName
	}
	hosts := map[string]bool{}
	for _, r := range o.Spec.Rules {
		hosts[or(r.Host, "*")] = true
	}
	var hs []string
	for h := range hosts {
		hs = append(hs, h)
	}
	sort.Strings(hs)
	return plain(orNone(class), orNone(strings.Join(hs, ",")))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
