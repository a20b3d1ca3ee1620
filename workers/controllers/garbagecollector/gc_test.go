package garbagecollector

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestDecide(t *testing.T) {
	live := map[types.UID]bool{"a": true}
	exists := func(r metav1.OwnerReference) bool { return live[r.UID] }
	ref := func(uid string) metav1.OwnerReference { return metav1.OwnerReference{UID: types.UID(uid)} }
	tests := []struct {
		name string
		refs []metav1.OwnerReference
		want Verdict
	}{
		{"no owners", nil, Keep},
		{"owner present", []metav1.OwnerReference{ref("a")}, Keep},
		{"owner gone", []metav1.OwnerReference{ref("b")}, Delete},
		{"one of two gone", []metav1.OwnerReference{ref("a"), ref("b")}, Patch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := Decide(tt.refs, exists); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
