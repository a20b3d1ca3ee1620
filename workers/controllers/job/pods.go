package job

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels Kubernetes puts on a Job's pods.
const (
	labelControllerUID = "batch.kubernetes.io/controller-uid"
	labelJobName       = "batch.kubernetes.io/job-name"
)

func podFromTemplate(job *batchv1.Job, newName func(string) string) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	labels := map[string]string{labelJobName: job.Name, "job-name": job.Name}
	if job.UID != "" {
		labels[labelControllerUID] = string(job.UID)
		labels["controller-uid"] = string(job.UID)
	}
	for k, v := range t.Labels {
		labels[k] = v
	}
	yes := true
	prefix := job.Name + "-"
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: newName(prefix), GenerateName: prefix, Namespace: job.Namespace,
			Labels: labels, Annotations: t.Annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID,
				Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Spec: t.Spec,
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, cs := range p.Status.ContainerStatuses {
		n += cs.RestartCount
	}
	return n
}
