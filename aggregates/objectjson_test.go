package aggregates

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/randfill"
)

// TestAppendObjectMatchesMarshal: every builtin kind, filled at random
// (strings plain, escaped, HTML, non-ASCII and invalid UTF-8; maps and
// pointers nil, empty and full), is written by appendObject exactly as
// encoding/json writes it, and appendObject writes them itself (no
// refusal for the builtin kinds).
func TestAppendObjectMatchesMarshal(t *testing.T) {
	strs := []string{"", "web", "a.b/c-d_e", "app.kubernetes.io/name", `q"uote`, `back\slash`, "<b>&amp;</b>",
		"caf\u00e9", "line\nbreak", "\x00\x1f", "sep\u2028", "bad\xffutf8", "0123456789abcdef0123456789abcdef"}
	f := randfill.NewWithSeed(1).NilChance(0.3).NumElements(0, 3).MaxDepth(6).Funcs(
		func(s *string, c randfill.Continue) {
			if c.Intn(4) == 0 {
				*s = c.String(8) // random unicode
				return
			}
			*s = strs[c.Intn(len(strs))]
		},
		func(q *resource.Quantity, c randfill.Continue) {
			*q = resource.MustParse([]string{"0", "100m", "1", "1.5Gi", "2k", "1e3"}[c.Intn(6)])
		},
		func(v *intstr.IntOrString, c randfill.Continue) {
			if c.Bool() {
				*v = intstr.FromInt32(c.Int31n(100))
			} else {
				*v = intstr.FromString(strs[c.Intn(len(strs))])
			}
		},
		func(tm *metav1.Time, c randfill.Continue) {
			if c.Intn(3) > 0 {
				c.Fill(&tm.Time)
			} else {
				*tm = metav1.Time{}
			}
		},
	)
	compared := 0
	for _, k := range Builtin().Kinds() {
		for range 250 {
			obj := k.New()
			f.Fill(obj)
			want, err := json.Marshal(obj)
			if err != nil {
				continue // nothing to agree with
			}
			got, ok := appendObject([]byte("prefix"), obj)
			if !ok {
				t.Fatalf("%s: appendObject refused what encoding/json writes:\n%s", k.Name, want)
			}
			if string(got) != "prefix"+string(want) {
				t.Fatalf("%s:\nappendObject %s\nencoding/json %s", k.Name, got[len("prefix"):], want)
			}
			compared++
		}
	}
	if compared < 18*200 {
		t.Errorf("compared only %d objects", compared)
	}
	t.Logf("%d objects agree", compared)
}

// TestAppendObjectLeavesOtherLayouts: a type that is not laid out as a
// Kubernetes object is left to encoding/json.
func TestAppendObjectLeavesOtherLayouts(t *testing.T) {
	type odd struct {
		metav1.ObjectMeta `json:"metadata,omitempty"`
		metav1.TypeMeta   `json:",inline"`
	}
	type kindMember struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata,omitempty"`
		Kind2             string `json:"kind"`
	}
	type oddTag struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata,omitempty"`
		A                 string `json:"it's"`
	}
	for name, typ := range map[string]reflect.Type{
		"metadata first": reflect.TypeFor[odd](),
		"a member named kind (a name given twice)": reflect.TypeFor[kindMember](), "a tag encoding/json refuses": reflect.TypeFor[oddTag](),
		"a type that marshals itself": reflect.TypeFor[selfMarshaled](),
	} {
		if p := planOf(typ); p != nil {
			t.Errorf("planned %+v for %s", p, name)
		}
	}
	if p := planOf(reflect.TypeFor[corev1.ConfigMap]()); p == nil || len(p.members) != 3 {
		t.Errorf("ConfigMap plan %+v, want its immutable, data and binaryData", p)
	}
}

type selfMarshaled struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
}

func (selfMarshaled) MarshalJSON() ([]byte, error) { return []byte(`{}`), nil }
