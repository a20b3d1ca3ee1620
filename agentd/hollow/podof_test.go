package hollow

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/projections"
)

// TestPodOfReadsWhatTheNodeUses: a hollow node's lean decode of a
// gantry-node-pods value gives the fields it acts on exactly as decoding
// the whole pod does, whatever else the pod holds.
func TestPodOfReadsWhatTheNodeUses(t *testing.T) {
	gone := metav1.NewTime(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	full := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u-1", ResourceVersion: "42", Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{ExitCodeAnnotation: "3", "other": "x"}, DeletionTimestamp: &gone,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs"}}},
		Spec: corev1.PodSpec{NodeName: "node-1", RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{
			{Name: "web", Image: "busybox:1", Command: []string{"sleep", "1"}, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}},
			{Name: "side", Image: "busybox:2", Ports: []corev1.ContainerPort{{ContainerPort: 80}}},
		}, Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
	}{{"every field", full}, {"bare", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u"}}}} {
		obj, _ := json.Marshal(tc.pod)
		value, _ := json.Marshal(projections.StateValue{Seq: 7, Object: obj})
		got, ok := podOf(value)
		if !ok {
			t.Fatalf("%s: podOf declined %s", tc.name, value)
		}
		var whole projections.StateValue
		want := &corev1.Pod{}
		if json.Unmarshal(value, &whole) != nil || json.Unmarshal(whole.Object, want) != nil {
			t.Fatal("decode")
		}
		lean := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace, UID: want.UID,
			DeletionTimestamp: want.DeletionTimestamp, Annotations: want.Annotations},
			Spec: corev1.PodSpec{RestartPolicy: want.Spec.RestartPolicy}, Status: corev1.PodStatus{Phase: want.Status.Phase}}
		for _, c := range want.Spec.Containers {
			lean.Spec.Containers = append(lean.Spec.Containers, corev1.Container{Name: c.Name, Image: c.Image})
		}
		if !reflect.DeepEqual(got, lean) {
			t.Errorf("%s:\npodOf %+v\nwant  %+v", tc.name, got, lean)
		}
	}
	if _, ok := podOf([]byte(`{"object":[1]}`)); ok {
		t.Error("podOf took a value that is not a pod")
	}
}
