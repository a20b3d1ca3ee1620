package replicaset

import (
	"math/rand/v2"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podFromTemplate builds a pod as the Kubernetes controller does: template
// labels, annotations and spec, generateName "<rs>-", a controller ref.
func podFromTemplate(rs *appsv1.ReplicaSet, newName func(string) string) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	prefix := rs.Name + "-"
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            newName(prefix),
			GenerateName:    prefix,
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{ControllerRef(rs)},
		},
		Spec: t.Spec,
	}
}

// nameAlphabet is the Kubernetes generateName alphabet (no vowels, no
// look-alike digits, so names do not spell words).
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// RandomNames returns a NewName that appends five random characters to the
// prefix, as the Kubernetes API server does for generateName.
func RandomNames(r *rand.Rand) func(string) string {
	return func(prefix string) string {
		b := make([]byte, 5)
		for i := range b {
			b[i] = nameAlphabet[r.IntN(len(nameAlphabet))]
		}
		return prefix + string(b)
	}
}
