package namespace

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func obj(kind, name string, owners ...string) Object {
	o := Object{Kind: kind, Name: name, UID: types.UID(name)}
	for _, w := range owners {
		o.Owners = append(o.Owners, metav1.OwnerReference{UID: types.UID(w)})
	}
	return o
}

func deleted(r Result) string {
	var s []string
	for _, o := range r.Delete {
		s = append(s, o.Kind+"/"+o.Name)
	}
	return fmt.Sprint(s)
}

func TestReconcile(t *testing.T) {
	terminating := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", DeletionTimestamp: &metav1.Time{}}}
	active := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	term := obj("pod", "bare")
	term.Terminating = true
	tests := []struct {
		name         string
		ns           *corev1.Namespace
		objects      []Object
		want         string
		wantFinalize bool
	}{
		{"active namespace: nothing", active, []Object{obj("pod", "p")}, "[]", false},
		{"owners first, by kind", nil, []Object{
			obj("secret", "s"), obj("pod", "web-1", "rs"), obj("replicaset", "rs", "dep"), obj("deployment", "dep"),
			obj("pod", "bare"), obj("horizontalpodautoscaler", "hpa"), obj("service", "svc"),
		}, "[horizontalpodautoscaler/hpa deployment/dep pod/bare service/svc secret/s]", false},
		{"orphans follow", nil, []Object{obj("pod", "web-1", "rs"), obj("replicaset", "rs", "dep")}, "[replicaset/rs]", false},
		{"terminating objects are not deleted again", nil, []Object{term, obj("configmap", "c")}, "[configmap/c]", false},
		{"owner cycle broken", nil, []Object{obj("configmap", "a", "b"), obj("configmap", "b", "a")}, "[configmap/a configmap/b]", false},
		{"terminating and empty: finalize", terminating, nil, "[]", true},
		{"deleted and empty: done", nil, nil, "[]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Reconcile(tt.ns, tt.objects)
			if got := deleted(r); got != tt.want || r.Finalize != tt.wantFinalize {
				t.Fatalf("delete %s finalize %v, want %s %v", got, r.Finalize, tt.want, tt.wantFinalize)
			}
		})
	}
}
