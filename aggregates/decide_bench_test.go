package aggregates

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkDecideCreate: deciding the create of a ConfigMap of 512 bytes
// of data, of a small Deployment and of the scheduling benchmark's pod,
// from the manifest to the event.
func BenchmarkDecideCreate(b *testing.B) {
	payload := strings.Repeat("0123456789abcdef", 30)
	cases := map[string][]byte{
		"configmap": fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-1","namespace":"bench","labels":{"app":"bench"}},"data":{"payload":%q}}`, payload),
		"deployment": []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d1","namespace":"bench","labels":{"app":"d1"}},
"spec":{"replicas":3,"selector":{"matchLabels":{"app":"d1"}},"template":{"metadata":{"labels":{"app":"d1"}},
"spec":{"containers":[{"name":"web","image":"busybox:1","ports":[{"containerPort":8080}]}]}}}}`),
		"pod": []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","labels":{"app":"bench"}},` +
			`"spec":{"containers":[{"name":"c","image":"pause:3","resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]}}`),
	}
	for _, name := range []string{"configmap", "deployment", "pod"} {
		k, _ := BuiltinKind(map[string]string{"configmap": "ConfigMap", "deployment": "Deployment", "pod": "Pod"}[name])
		c := Command{Verb: VerbCreate, Namespace: "bench", Name: map[string]string{"configmap": "cm-1", "deployment": "d1", "pod": "p1"}[name], Object: cases[name]}
		env := Env{Now: time.Unix(1, 0), NewUID: func() string { return "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f" }}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decide(k, State{}, c, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
