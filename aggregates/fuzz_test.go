package aggregates

import (
	"encoding/json"
	"testing"
)

// FuzzDecide feeds arbitrary manifests through every kind's create and
// apply: never a panic, and every refusal is a Kubernetes status error.
func FuzzDecide(f *testing.F) {
	f.Add([]byte(deployYAML))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"memory":"1Zi"}}}]}}`))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":70000,"targetPort":"http"}]}}`))
	f.Add([]byte(`{"metadata":{"name":"x","labels":{"a":1}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"spec":null,"metadata":null}`))
	kinds := Builtin().Kinds()
	f.Fuzz(func(t *testing.T, manifest []byte) {
		for _, k := range kinds {
			c := Command{Verb: VerbApply, Namespace: "default", Name: nameOf(manifest), Object: json.RawMessage(manifest)}
			if !k.Namespaced {
				c.Namespace = ""
			}
			d, err := Decide(k, State{}, c, testEnv)
			if err != nil {
				if _, ok := err.(interface{ Status() any }); ok {
					continue
				}
				if msg := err.Error(); msg == "" {
					t.Fatalf("%s: empty error", k.Name)
				}
				continue
			}
			if d.Event == nil || d.Event.Verb != Created {
				t.Fatalf("%s: accepted create without a created event", k.Name)
			}
			if _, err := Apply(nil, *d.Event); err != nil {
				t.Fatalf("%s: accepted object does not apply: %v", k.Name, err)
			}
		}
	})
}
