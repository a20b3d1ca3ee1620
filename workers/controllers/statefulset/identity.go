package statefulset

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Labels and annotations a StatefulSet's pods carry, as in Kubernetes.
const (
	LabelPodName      = "statefulset.kubernetes.io/pod-name"
	LabelPodIndex     = "apps.kubernetes.io/pod-index"
	LabelRevisionHash = appsv1.ControllerRevisionHashLabelKey // "controller-revision-hash"

	// AnnotationVolumeNodes on the StatefulSet records, per ordinal, the
	// node holding that ordinal's volume directories (JSON {"0":"node-a"}):
	// Gantry's stand-in for a local PersistentVolume's node affinity.
	AnnotationVolumeNodes = "statefulset.gantry.sh/volume-nodes"
)

// podName is "<set>-<ordinal>".
func podName(set *appsv1.StatefulSet, ordinal int) string {
	return set.Name + "-" + strconv.Itoa(ordinal)
}

// ordinalOf parses the ordinal from a pod's name; -1 if it is not one of set's.
func ordinalOf(set *appsv1.StatefulSet, pod *corev1.Pod) int {
	rest, ok := strings.CutPrefix(pod.Name, set.Name+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

// revision names the template: "<set>-<hash>", what Kubernetes puts in
// controller-revision-hash (Gantry keeps no ControllerRevision objects).
func revision(set *appsv1.StatefulSet) string {
	raw, _ := json.Marshal(set.Spec.Template)
	h := fnv.New32a()
	h.Write(raw)
	return set.Name + "-" + rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// VolumeDir is where ordinal's claim lives on its node:
// <dataDir>/volumes/<namespace>/<set>/<claim>-<ordinal>.
func VolumeDir(dataDir, namespace, set, claim string, ordinal int) string {
	return filepath.Join(dataDir, "volumes", namespace, set, fmt.Sprintf("%s-%d", claim, ordinal))
}

// volumeNodes reads AnnotationVolumeNodes (a bad value reads as empty).
func volumeNodes(set *appsv1.StatefulSet) map[string]string {
	m := map[string]string{}
	if v := set.Annotations[AnnotationVolumeNodes]; v != "" {
		_ = json.Unmarshal([]byte(v), &m)
	}
	return m
}

// newPod builds ordinal's pod: the template, a stable name, hostname and
// subdomain (so <pod>.<serviceName>.<ns>.svc.cluster.local resolves), a
// hostPath volume per claim template, and, once its volumes have a node,
// a required affinity to that node.
func newPod(set *appsv1.StatefulSet, ordinal int, rev, dataDir, node string) *corev1.Pod {
	t := set.Spec.Template.DeepCopy()
	name := podName(set, ordinal)
	labels := map[string]string{}
	for k, v := range t.Labels {
		labels[k] = v
	}
	labels[LabelPodName] = name
	labels[LabelPodIndex] = strconv.Itoa(ordinal)
	labels[LabelRevisionHash] = rev
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: set.Namespace, Labels: labels, Annotations: t.Annotations,
			OwnerReferences: []metav1.OwnerReference{controllerRef(set)},
		},
		Spec: t.Spec,
	}
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = set.Spec.ServiceName
	for _, claim := range set.Spec.VolumeClaimTemplates {
		setVolume(&pod.Spec, corev1.Volume{Name: claim.Name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: VolumeDir(dataDir, set.Namespace, set.Name, claim.Name, ordinal), Type: ptr(corev1.HostPathDirectoryOrCreate),
		}}})
	}
	if node != "" && len(set.Spec.VolumeClaimTemplates) > 0 {
		pinToNode(&pod.Spec, node)
	}
	return pod
}

// setVolume replaces the template's volume of the same name, as a claim
// template does in Kubernetes, or adds it.
func setVolume(spec *corev1.PodSpec, v corev1.Volume) {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == v.Name {
			spec.Volumes[i] = v
			return
		}
	}
	spec.Volumes = append(spec.Volumes, v)
}

// pinToNode ANDs "metadata.name In [node]" into every required node
// affinity term (adding one term if there is none).
func pinToNode(spec *corev1.PodSpec, node string) {
	req := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}
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
		terms[i].MatchFields = append(terms[i].MatchFields, req)
	}
}

// ControllerRef is the owner reference a StatefulSet puts on its pods.
func controllerRef(set *appsv1.StatefulSet) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: "StatefulSet", Name: set.Name, UID: set.UID,
		Controller: ptr(true), BlockOwnerDeletion: ptr(true),
	}
}

func ptr[T any](v T) *T { return &v }
