package aggregates

import (
	"encoding/json"
	"reflect"
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

// FuzzDecodePlain: whatever the fast decode takes, for any kind, the
// strict decoder takes too and decodes the same (the property test's
// generator draws from the types; this draws from anywhere).
func FuzzDecodePlain(f *testing.F) {
	f.Add([]byte(deployYAML))
	f.Add([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"app":"x"}},"data":{"k":"v\n\u00e9"}}`))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"q"},"spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"cpu":0.5}}}]}}`))
	f.Add([]byte(`{"metadata":{"generation":1.0,"labels":{"a":"b","\u0061":"c"}}}`))
	kinds := Builtin().Kinds()
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, k := range kinds {
			fast := k.New()
			if !decodePlain(doc, fast) {
				continue
			}
			strict := k.New()
			if err := decodeStrict(k, doc, strict); err != nil {
				t.Fatalf("%s: the fast decode took %q; the strict one refuses it: %v", k.Name, doc, err)
			}
			if !reflect.DeepEqual(fast, strict) {
				t.Fatalf("%s: %q decodes differently", k.Name, doc)
			}
		}
	})
}
