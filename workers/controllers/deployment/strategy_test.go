package deployment

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestFenceposts(t *testing.T) {
	tests := []struct {
		name                  string
		replicas              int32
		surge, unavail        intstr.IntOrString
		wantSurge, wantUnavai int32
	}{
		{"defaults on 10", 10, intstr.FromString("25%"), intstr.FromString("25%"), 3, 2},
		{"ints", 3, intstr.FromInt32(1), intstr.FromInt32(0), 1, 0},
		{"percent rounds", 3, intstr.FromString("50%"), intstr.FromString("50%"), 2, 1},
		{"both round to zero", 3, intstr.FromString("0%"), intstr.FromString("10%"), 0, 1},
		{"unavailable capped at replicas", 2, intstr.FromInt32(0), intstr.FromInt32(5), 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := makeDeployment(tt.replicas, "x")
			rolling(tt.surge, tt.unavail)(d)
			if s, u := maxSurge(d), maxUnavailable(d); s != tt.wantSurge || u != tt.wantUnavai {
				t.Fatalf("surge %d unavailable %d, want %d %d", s, u, tt.wantSurge, tt.wantUnavai)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name           string
		surge, unavail intstr.IntOrString
		ok             bool
	}{
		{"both zero ints", intstr.FromInt32(0), intstr.FromInt32(0), false},
		{"both zero percent", intstr.FromString("0%"), intstr.FromString("0%"), false},
		{"bad percent", intstr.FromString("abc"), intstr.FromInt32(1), false},
		{"negative", intstr.FromInt32(-1), intstr.FromInt32(1), false},
		{"surge only", intstr.FromInt32(1), intstr.FromInt32(0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := makeDeployment(3, "x")
			rolling(tt.surge, tt.unavail)(d)
			err := Validate(d)
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func TestComputeHashStable(t *testing.T) {
	a := makeDeployment(1, "web:v1")
	b := makeDeployment(5, "web:v1")
	c := makeDeployment(1, "web:v2")
	ha := ComputeHash(&a.Spec.Template, nil)
	if ha != ComputeHash(&b.Spec.Template, nil) || ha != ComputeHash(a.Spec.Template.DeepCopy(), nil) {
		t.Fatal("equal templates hash differently")
	}
	if ha == ComputeHash(&c.Spec.Template, nil) {
		t.Fatal("different images hash the same")
	}
	one := int32(1)
	if ha == ComputeHash(&a.Spec.Template, &one) {
		t.Fatal("collision count ignored")
	}
	for _, r := range ha {
		if r == 'a' || r == 'e' || r == 'i' || r == 'o' || r == 'u' {
			t.Fatalf("hash %q has a vowel", ha)
		}
	}
}
