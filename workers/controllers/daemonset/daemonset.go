package daemonset

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TemplateGenerationLabel marks which DaemonSet generation a pod was
// created from; rolling updates replace the others.
const TemplateGenerationLabel = "pod-template-generation"

// Env is what Reconcile needs from the world, injected.
type Env struct {
	Now     time.Time
	NewName func(prefix string) string
}

// Result holds the intents for one DaemonSet.
type Result struct {
	Create []*corev1.Pod // each pinned to its node by node affinity
	Delete []*corev1.Pod
	Status appsv1.DaemonSetStatus
}

// nodePods is the DaemonSet's pods targeting one node.
type nodePods struct {
	active []*corev1.Pod
	failed []*corev1.Pod
}

// Reconcile runs one pod of the DaemonSet on every eligible node: it
// creates pods where missing, deletes them from nodes that no longer
// qualify (or no longer exist), removes duplicates and failed pods, and
// under RollingUpdate replaces old-generation pods within maxUnavailable.
// pods are the pods controlled by ds.
func Reconcile(ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod, env Env) (Result, error) {
	if _, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector); err != nil {
		return Result{}, fmt.Errorf("daemonset %s/%s: spec.selector: %w", ds.Namespace, ds.Name, err)
	}
	byNode := groupByNode(pods)
	var res Result
	for _, node := range nodes {
		np := byNode[node.Name]
		delete(byNode, node.Name)
		res.reconcileNode(ds, node, np, env)
	}
	for _, orphaned := range byNode { // pods on nodes that are gone
		res.Delete = append(res.Delete, orphaned.active...)
		res.Delete = append(res.Delete, orphaned.failed...)
	}
	res.Delete = append(res.Delete, rollingDeletes(ds, nodes, pods, res.Delete, env.Now)...)
	res.Status = status(ds, nodes, pods, env.Now)
	return res, nil
}

func (res *Result) reconcileNode(ds *appsv1.DaemonSet, node *corev1.Node, np nodePods, env Env) {
	place := placementOn(&ds.Spec.Template.Spec, node)
	res.Delete = append(res.Delete, np.failed...)
	switch {
	case !place.keep:
		res.Delete = append(res.Delete, np.active...)
	case place.run && len(np.active) == 0 && ds.DeletionTimestamp == nil:
		res.Create = append(res.Create, podFor(ds, node.Name, env.NewName))
	case len(np.active) > 1:
		sorted := slices.SortedFunc(slices.Values(np.active), oldestFirst)
		res.Delete = append(res.Delete, sorted[1:]...)
	}
}

func groupByNode(pods []*corev1.Pod) map[string]nodePods {
	out := map[string]nodePods{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		node := targetNode(p)
		np := out[node]
		if p.Status.Phase == corev1.PodFailed {
			np.failed = append(np.failed, p)
		} else if p.Status.Phase != corev1.PodSucceeded {
			np.active = append(np.active, p)
		}
		out[node] = np
	}
	return out
}

// targetNode is where a daemon pod runs or is pinned to.
func targetNode(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

func oldestFirst(a, b *corev1.Pod) int {
	if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	if a.Name < b.Name {
		return -1
	}
	return 1
}

func currentGeneration(ds *appsv1.DaemonSet, p *corev1.Pod) bool {
	return p.Labels[TemplateGenerationLabel] == strconv.FormatInt(ds.Generation, 10)
}
