package daemonset

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podFor builds the daemon pod for one node: the template, the generation
// label, the daemon tolerations, and required node affinity on
// metadata.name so the scheduler places it on that node.
func podFor(ds *appsv1.DaemonSet, node string, newName func(string) string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	labels := map[string]string{TemplateGenerationLabel: strconv.FormatInt(ds.Generation, 10)}
	for k, v := range t.Labels {
		labels[k] = v
	}
	t.Spec.Tolerations = append(t.Spec.Tolerations, daemonTolerations(t.Spec.HostNetwork)...)
	pinToNode(&t.Spec, node)
	yes := true
	prefix := ds.Name + "-"
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: newName(prefix), GenerateName: prefix, Namespace: ds.Namespace,
			Labels: labels, Annotations: t.Annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID,
				Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Spec: t.Spec,
	}
}

// pinToNode sets matchFields metadata.name In [node] in every required
// term (one term if there were none), as Kubernetes does.
func pinToNode(spec *corev1.PodSpec, node string) {
	field := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := spec.Affinity.NodeAffinity
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil || len(na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) == 0 {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{}}}
	}
	terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	for i := range terms {
		terms[i].MatchFields = []corev1.NodeSelectorRequirement{field}
	}
}
