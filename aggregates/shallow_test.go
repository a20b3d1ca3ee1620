package aggregates

import (
	"bytes"
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"pgregory.net/rapid"
)

// TestShallowApplyEqualsMergePatch: for every event applyShallow handles,
// the result is the object the general merge patch gives.
func TestShallowApplyEqualsMergePatch(t *testing.T) {
	obj := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web","old":"x"},"generation":3},"spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"web"}}}}}`)
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.Int32Range(0, 100).Draw(t, "replicas")
		key := rapid.SampledFrom([]string{"app", "old", "new", "a.b/c"}).Draw(t, "key")
		remove := rapid.Bool().Draw(t, "remove")
		val := rapid.StringMatching(`[a-z0-9]{0,5}`).Draw(t, "value")
		var label *string
		if !remove {
			label = &val
		}
		for _, e := range []Event{
			{Verb: Scaled, Data: mustJSON(ScaledData{Replicas: n, Previous: 2, Generation: 4})},
			{Verb: Labeled, Data: mustJSON(LabeledData{Labels: map[string]*string{key: label}})},
			{Verb: Bound, Data: mustJSON(BoundData{NodeName: val})},
		} {
			got, ok, err := applyShallow(obj, e)
			if !ok || err != nil {
				t.Fatalf("%s: %v", e.Verb, err)
			}
			patch, _ := patchOf(e)
			want, _ := jsonpatch.MergePatch(obj, patch)
			if !jsonEqual(got, want) {
				t.Fatalf("%s:\n got %s\nwant %s", e.Verb, got, want)
			}
		}
	})
}

func TestWithResourceVersionSplice(t *testing.T) {
	for _, obj := range []string{
		`{"kind":"Pod","metadata":{"name":"p","annotations":{"x":"{\"metadata\":{}}"}},"spec":{"template":{"metadata":{}}}}`,
		`{"apiVersion":"v1","metadata":{},"spec":{}}`,
		`{"metadata":{"name":"p","resourceVersion":"3"}}`,
	} {
		got, err := WithResourceVersion([]byte(obj), 42)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := jsonpatch.MergePatch([]byte(obj), []byte(`{"metadata":{"resourceVersion":"42"}}`))
		if !jsonEqual(got, want) {
			t.Errorf("WithResourceVersion(%s) = %s, want %s", obj, got, want)
		}
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return bytes.Equal(mustJSON(x), mustJSON(y))
}

// TestShallowApplyKeepsNullMembers: a member whose value is null, on the
// path an event edits, stays null (it was written as nothing, leaving
// invalid JSON).
func TestShallowApplyKeepsNullMembers(t *testing.T) {
	obj := []byte(`{"kind":"Deployment","metadata":{"name":"web","annotations":null,"labels":{"app":"web"}},"spec":{"replicas":2,"paused":null}}`)
	for _, e := range []Event{
		{Verb: Scaled, Data: mustJSON(ScaledData{Replicas: 5, Previous: 2, Generation: 2})},
		{Verb: Labeled, Data: mustJSON(LabeledData{Labels: map[string]*string{"tier": new("front")}})},
	} {
		got, err := Apply(obj, e)
		if err != nil {
			t.Fatalf("%s: %v", e.Verb, err)
		}
		if !json.Valid(got) {
			t.Fatalf("%s: invalid JSON %s", e.Verb, got)
		}
		patch, _ := patchOf(e)
		want, _ := jsonpatch.MergePatch(obj, patch)
		if !jsonEqual(got, want) {
			t.Fatalf("%s:\n got %s\nwant %s", e.Verb, got, want)
		}
	}
}
