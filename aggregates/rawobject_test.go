package aggregates

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"pgregory.net/rapid"
)

// TestFastApplyMatchesGeneral: whenever the fast path takes an event, it
// writes byte for byte what the general path writes, and the general path
// does not fail. Objects and event data are drawn with the quirks the fast
// path must decline or get right: unsorted and duplicate keys, escapes,
// white space, nulls, keys differing in case, non-objects on the path,
// numbers that are not integers, broken JSON.
func TestFastApplyMatchesGeneral(t *testing.T) {
	taken := 0
	rapid.Check(t, func(t *rapid.T) {
		obj := []byte(genObject(t, "obj", 0))
		if rapid.IntRange(0, 20).Draw(t, "break-obj") == 0 {
			obj = breakJSON(t, obj)
		}
		e := genEvent(t)
		got, ok := applyFast(nil, obj, e)
		if !ok {
			return
		}
		taken++
		want, err := applyGeneral(obj, e)
		if err != nil {
			t.Fatalf("fast path took %s %s on %s; the general path fails: %v", e.Verb, e.Data, obj, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s %s on %s:\nfast    %s\ngeneral %s", e.Verb, e.Data, obj, got, want)
		}
	})
	// About one drawn case in five takes the fast path: fewer than three in
	// a hundred means the generator broke, not bad luck (fewer than ten
	// happened once in a few hundred runs).
	t.Logf("fast path took %d events", taken)
	if taken < 3 {
		t.Errorf("the fast path took only %d events", taken)
	}
}

// TestFastApplyTakesStoredObjects: the objects Gantry stores take the fast
// path, so folds are fast in practice (and the differential test above
// covers what they exercise).
func TestFastApplyTakesStoredObjects(t *testing.T) {
	reg := Builtin()
	for _, m := range []struct{ kind, manifest string }{
		{"deployment", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"i"}]}}}}`},
		{"pod", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"i","resources":{"requests":{"cpu":"100m"}}}]}}`},
		{"configmap", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web"},"data":{"a":"b"}}`},
	} {
		k, _ := reg.Lookup(m.kind)
		d, err := Decide(k, State{}, Command{Kind: m.kind, Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(m.manifest)}, testEnv)
		if err != nil {
			t.Fatalf("create %s: %v", m.kind, err)
		}
		obj := []byte(d.Event.Data)
		events := []Event{
			{Verb: Labeled, Data: []byte(`{"labels":{"rev":"v1","app":null}}`)},
			{Verb: Labeled, Data: []byte(`{"labels":{"rev":null}}`)},
			{Verb: StatusChanged, Data: []byte(`{"status":{"replicas":3,"conditions":[{"type":"Available","status":"True"}]}}`)},
			{Verb: StatusChanged, Data: []byte(`{"status":null}`)},
		}
		switch m.kind {
		case "deployment":
			events = append(events, Event{Verb: Scaled, Data: []byte(`{"replicas":5,"previous":3,"generation":2}`)})
		case "pod":
			events = append(events, Event{Verb: Bound, Data: []byte(`{"nodeName":"node-1"}`)})
		}
		for _, e := range events {
			got, ok := applyFast(nil, obj, e)
			if !ok {
				t.Errorf("%s: %s %s on %s: fast path declined", m.kind, e.Verb, e.Data, obj)
				break
			}
			want, err := applyGeneral(obj, e)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %s %s:\nfast    %s\ngeneral %s (%v)", m.kind, e.Verb, e.Data, got, want, err)
			}
			obj = got
		}
	}
}

var genKeys = []string{"apiVersion", "kind", "metadata", "spec", "status", "labels", "replicas", "generation",
	"nodeName", "name", "app", "rev", "a<b", `e\u0073c`, "Status", "LABELS", "Metadata", "é", "a b", "z", "Spec", "NodeNAME", "ſpec", `node\u004eame`}

func genObject(t *rapid.T, label string, depth int) string {
	n := rapid.IntRange(0, 5).Draw(t, label+"-n")
	var b strings.Builder
	b.WriteString(space(t, label))
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(space(t, label))
		key := rapid.SampledFrom(genKeys).Draw(t, label+"-key")
		b.WriteString(`"` + key + `"`)
		b.WriteString(space(t, label))
		b.WriteByte(':')
		b.WriteString(space(t, label))
		b.WriteString(genValue(t, label+"."+key, depth+1))
		b.WriteString(space(t, label))
	}
	b.WriteByte('}')
	b.WriteString(space(t, label))
	return b.String()
}

func genValue(t *rapid.T, label string, depth int) string {
	kinds := 8
	if depth > 3 {
		kinds = 6
	}
	switch rapid.IntRange(0, kinds-1).Draw(t, label+"-kind") {
	case 0:
		return rapid.SampledFrom([]string{`"x"`, `"node-1"`, `""`, `"a\"b"`, `"<&>"`, `"é"`, `"v1"`}).Draw(t, label+"-str")
	case 1:
		return rapid.SampledFrom([]string{`0`, `3`, `-1`, `2147483648`, `1.5`, `1e3`, `-0`, `9223372036854775808`}).Draw(t, label+"-num")
	case 2:
		return rapid.SampledFrom([]string{`true`, `false`, `null`}).Draw(t, label+"-lit")
	case 3:
		return `[` + genValue(t, label+"[0]", depth+4) + `,1]`
	case 4:
		return `{}`
	case 5:
		return `null`
	}
	return genObject(t, label, depth)
}

func space(t *rapid.T, label string) string {
	if rapid.IntRange(0, 9).Draw(t, label+"-ws") == 0 {
		return " \n\t"
	}
	return ""
}

func genEvent(t *rapid.T) Event {
	verb := rapid.SampledFrom([]string{Scaled, Labeled, Bound, StatusChanged}).Draw(t, "verb")
	var data string
	switch verb {
	case Scaled:
		data = `{"replicas":` + genNumber(t, "replicas") + `,"previous":` + genNumber(t, "previous") + `,"generation":` + genNumber(t, "generation") + `}`
		data = rapid.SampledFrom([]string{data, `{"Replicas":2,"generation":1}`, `{"generation":4}`, `{"replicas":1,"replicas":2}`, `{}`, `null`}).Draw(t, "scaled")
	case Labeled:
		var b strings.Builder
		b.WriteString(`{"labels":{`)
		for i := range rapid.IntRange(0, 3).Draw(t, "labels") {
			if i > 0 {
				b.WriteByte(',')
			}
			k := rapid.SampledFrom([]string{"app", "rev", "a.b/c", "a<b", `e\u0073c`, "é", "z"}).Draw(t, "label-key")
			v := rapid.SampledFrom([]string{`"web"`, `"v1"`, `""`, `null`, `"a\"b"`, `"<&>"`, `"é"`, `1`, `{}`}).Draw(t, "label-value")
			b.WriteString(`"` + k + `":` + v)
		}
		b.WriteString(`}}`)
		data = rapid.SampledFrom([]string{b.String(), `{"labels":null}`, `{"Labels":{"a":"b"}}`, `{"labels":{"a":"b"},"x":[1,{}]}`, `{}`}).Draw(t, "labeled")
	case Bound:
		data = rapid.SampledFrom([]string{`{"nodeName":"node-1"}`, `{"nodeName":""}`, `{"nodename":"n"}`, `{"nodeName":null}`, `{"nodeName":"<n>"}`, `{}`}).Draw(t, "bound")
	case StatusChanged:
		data = `{"status":` + genValue(t, "status", 1) + `}`
		data = rapid.SampledFrom([]string{data, `{"status":null}`, `{}`, `{"STATUS":{}}`, `{"status":{"a":1},"status":{"b":2}}`}).Draw(t, "statusdata")
	}
	raw := []byte(data)
	if rapid.IntRange(0, 15).Draw(t, "break-data") == 0 {
		raw = breakJSON(t, raw)
	}
	return Event{Verb: verb, Data: json.RawMessage(raw)}
}

func genNumber(t *rapid.T, label string) string {
	return rapid.SampledFrom([]string{`0`, `3`, `-2`, `2147483647`, `2147483648`, `1.0`, `1e2`, `"3"`, `null`, `-0`}).Draw(t, label)
}

// breakJSON drops or duplicates one byte.
func breakJSON(t *rapid.T, b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	i := rapid.IntRange(0, len(b)-1).Draw(t, "break-at")
	out := append([]byte{}, b[:i]...)
	if rapid.Bool().Draw(t, "break-dup") {
		out = append(out, b[i])
	}
	return append(out, b[i+1:]...)
}

func BenchmarkApplyStatus(b *testing.B) {
	obj := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"creationTimestamp":"2026-11-22T10:00:00Z","generation":1,"labels":{"app":"web"},"name":"web","namespace":"default","uid":"u"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"i"}]}}},"status":{}}`)
	e := Event{Verb: StatusChanged, Data: []byte(`{"status":{"replicas":3,"conditions":[{"type":"Available","status":"True","lastUpdateTime":"2026-11-22T10:00:00Z"}]}}`)}
	for _, c := range []struct {
		name  string
		apply func([]byte, Event) ([]byte, error)
	}{{"fast", Apply}, {"general", applyGeneral}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := c.apply(obj, e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSpecNodeNameMatchesEncodingJSON(t *testing.T) {
	taken := 0
	rapid.Check(t, func(t *rapid.T) {
		pod := []byte(genObject(t, "pod", 0))
		if rapid.IntRange(0, 20).Draw(t, "break-pod") == 0 {
			pod = breakJSON(t, pod)
		}
		got, ok := SpecNodeName(pod)
		if !ok {
			return
		}
		taken++
		var p struct {
			Spec struct {
				NodeName string `json:"nodeName"`
			} `json:"spec"`
		}
		_ = json.Unmarshal(pod, &p)
		if got != p.Spec.NodeName {
			t.Fatalf("SpecNodeName(%s) = %q, encoding/json %q", pod, got, p.Spec.NodeName)
		}
	})
	t.Logf("fast path took %d pods", taken)
	for _, pod := range []string{`{"spec":{"nodeName":"node-1","containers":[]}}`, `{"spec":{}}`, `{"kind":"Pod"}`, `{"spec":{"nodeName":null}}`} {
		if _, ok := SpecNodeName([]byte(pod)); !ok {
			t.Errorf("SpecNodeName(%s) declined", pod)
		}
	}
}

func TestCompactMatchesMarshal(t *testing.T) {
	taken := 0
	rapid.Check(t, func(t *rapid.T) {
		doc := []byte(strings.TrimSpace(genObject(t, "doc", 0)))
		if rapid.IntRange(0, 10).Draw(t, "break-doc") == 0 {
			doc = breakJSON(t, doc)
		}
		if !Compact(doc) {
			return
		}
		taken++
		out, err := json.Marshal(json.RawMessage(doc))
		if err != nil || !bytes.Equal(out, doc) {
			t.Fatalf("Compact(%s), but Marshal gives %s (%v)", doc, out, err)
		}
	})
	t.Logf("%d compact documents", taken)
	if !Compact([]byte(`{"a":"b c","d":[1,2.5e3,null,true]}`)) || Compact([]byte(`{"a": 1}`)) || Compact([]byte(`{"a":"<"}`)) {
		t.Error("Compact misjudges a plain case")
	}
	for _, doc := range []string{"{\"a\":\"\xff\"}", `{"a":"\u003c\"\\"}`, `"x"`, `[]`} {
		out, err := json.Marshal(json.RawMessage(doc))
		if Compact([]byte(doc)) && (err != nil || string(out) != doc) {
			t.Errorf("Compact(%q), but Marshal gives %q (%v)", doc, out, err)
		}
	}
}

// TestAppendApply: AppendApply writes after dst exactly what Apply
// returns, fails when it fails, and leaves dst's own bytes alone, within
// its capacity or past it.
func TestAppendApply(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		obj := []byte(genObject(t, "obj", 0))
		e := genEvent(t)
		if rapid.IntRange(0, 9).Draw(t, "create") == 0 {
			e = Event{Verb: Created, Data: obj}
		}
		prefix := []byte(rapid.StringN(0, 20, -1).Draw(t, "prefix"))
		dst := make([]byte, len(prefix), len(prefix)+rapid.IntRange(0, 2000).Draw(t, "room"))
		copy(dst, prefix)
		want, wantErr := Apply(obj, e)
		got, err := AppendApply(dst, obj, e)
		switch {
		case (err != nil) != (wantErr != nil):
			t.Fatalf("%s %s on %s: AppendApply error %v, Apply error %v", e.Verb, e.Data, obj, err, wantErr)
		case err != nil:
		case want == nil && got != nil:
			t.Fatalf("%s: Apply leaves no object, AppendApply %q", e.Verb, got)
		case want != nil && !bytes.Equal(got, append(prefix, want...)):
			t.Fatalf("%s %s on %s:\nAppendApply %q\nwant        %q", e.Verb, e.Data, obj, got, append(prefix, want...))
		}
		if !bytes.Equal(dst, prefix) {
			t.Fatalf("dst changed: %q, was %q", dst, prefix)
		}
	})
}

// TestEditsMatchApplyingInTurn: a run of events merged into Edits and
// applied in one pass writes byte for byte what AppendApply writes applying
// them one after another, on every object Editable admits; and Editable
// admits the objects the merged edits write.
func TestEditsMatchApplyingInTurn(t *testing.T) {
	merged := 0
	rapid.Check(t, func(t *rapid.T) {
		obj := []byte(genObject(t, "obj", 0))
		if !Editable(obj) {
			return
		}
		var x Edits
		want := obj
		n := rapid.IntRange(1, 8).Draw(t, "events")
		for i := range n {
			e := genEvent(t)
			data := bytes.Clone(e.Data)
			if !x.Add(e) {
				continue
			}
			clear(e.Data) // Add keeps copies: the replay reuses event memory
			e.Data = data
			next, err := AppendApply(nil, want, e)
			if err != nil {
				t.Fatalf("event %d, %s %s on %s: %v", i, e.Verb, e.Data, want, err)
			}
			want = next
		}
		got, ok := x.AppendTo(nil, obj)
		if !ok {
			t.Fatalf("merged edits declined on editable %s", obj)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("on %s:\nmerged    %s\nin turn   %s", obj, got, want)
		}
		if len(x.list) > 0 {
			merged++
			if !Editable(got) {
				t.Fatalf("merged edits wrote %s from %s: not editable", got, obj)
			}
		}
	})
	if merged < 10 { // about a third of the drawn runs merge edits
		t.Errorf("only %d runs merged any edit", merged)
	}
}

// TestStoredFieldsMatchEncodingJSON: the fields a scale or label command
// reads from the stored object (scaleFields, storedLabels) are what
// decoding the whole object with encoding/json gives, and when
// scaleFields is sure, that decoding does not fail.
func TestStoredFieldsMatchEncodingJSON(t *testing.T) {
	taken := 0
	rapid.Check(t, func(t *rapid.T) {
		doc := []byte(genStoredObject(t))
		if rapid.IntRange(0, 20).Draw(t, "break-doc") == 0 {
			doc = breakJSON(t, doc)
		}
		took, err := checkStoredFields(doc)
		if err != nil {
			t.Fatal(err)
		}
		if took {
			taken++
		}
	})
	t.Logf("scaleFields took %d objects", taken)
	if taken < 3 { // about a third are expected; fewer means the generator broke
		t.Errorf("scaleFields took only %d objects", taken)
	}
	for _, doc := range []string{ // the edges, whatever the draws
		`{"metadata":{"generation":3},"spec":{"replicas":2147483648}}`,
		`{"metadata":{"generation":9223372036854775808},"spec":{"replicas":1}}`,
		`{"metadata":{"generation":1.0},"spec":{"replicas":1e0}}`,
		`{"metadata":{"Generation":3,"generation":4},"spec":{"Replicas":2}}`,
		`{"metadata":{"gener\u0061tion":3},"spec":{"replicas":"2"}}`,
		`{"metadata":{"generation":3},"metadata":{"generation":4},"spec":{"replicas":2}}`,
		`{"metadata":{"labels":{"app":1}},"spec":null}`,
		`{"metadata":{"labels":{"a":"b","a":"c","\u0061":"d"}},"spec":{"replicas":null}}`,
	} {
		if _, err := checkStoredFields([]byte(doc)); err != nil {
			t.Error(err)
		}
	}
	for _, doc := range []string{`{"metadata":{"generation":3,"labels":{"app":"web"}},"spec":{"replicas":2}}`, `{"metadata":{},"spec":{}}`, `{"kind":"Deployment"}`} {
		if took, _ := checkStoredFields([]byte(doc)); !took {
			t.Errorf("scaleFields(%s) declined", doc)
		}
	}
}

// checkStoredFields compares the fast reads of doc with encoding/json's and
// says whether scaleFields took it.
func checkStoredFields(doc []byte) (took bool, err error) {
	var labelsOnly struct { // what decideLabel decoded before storedLabels
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	werr := json.Unmarshal(doc, &labelsOnly)
	labels, lerr := storedLabels(doc)
	if (lerr == nil) != (werr == nil) || lerr == nil && !reflect.DeepEqual(labels, labelsOnly.Metadata.Labels) {
		return false, fmt.Errorf("storedLabels(%s) = %v, %v; encoding/json %v, %v", doc, labels, lerr, labelsOnly.Metadata.Labels, werr)
	}
	var scaleOnly scaleView // what decideScale decodes when scaleFields declines
	werr = json.Unmarshal(doc, &scaleOnly)
	generation, replicas, ok := scaleFields(doc)
	if !ok {
		return false, nil
	}
	if werr != nil || generation != scaleOnly.Metadata.Generation || !reflect.DeepEqual(replicas, scaleOnly.Spec.Replicas) {
		return true, fmt.Errorf("scaleFields(%s) = %d, %v; encoding/json %d, %v, %v", doc, generation, replicas, scaleOnly.Metadata.Generation, scaleOnly.Spec.Replicas, werr)
	}
	return true, nil
}

// genStoredObject draws an object with metadata.generation, metadata.labels
// and spec.replicas in the shapes the fast reads must get right or decline,
// or any object genObject makes.
func genStoredObject(t *rapid.T) string {
	if rapid.IntRange(0, 3).Draw(t, "any-object") == 0 {
		return genObject(t, "obj", 0)
	}
	key := func(label, name string) string {
		return rapid.SampledFrom([]string{name, name, name, strings.ToUpper(name[:1]) + name[1:], `\u00` + strconv.FormatInt(int64(name[0]), 16) + name[1:]}).Draw(t, label)
	}
	meta := `"` + key("gen-key", "generation") + `":` + genNumber(t, "generation")
	meta += rapid.SampledFrom([]string{``, `,"generation":2`, `,"name":"web"`}).Draw(t, "meta-more")
	labels := rapid.SampledFrom([]string{`{"app":"web"}`, `{}`, `null`, `{"app":1}`, `{"a":"b","a":"c"}`, `{"e\u0073c":"x"}`, `[]`, `"x"`, `{"a":"caf\u00e9","b":"é","c":null}`}).Draw(t, "labels")
	meta += `,"` + key("labels-key", "labels") + `":` + labels
	spec := `"` + key("replicas-key", "replicas") + `":` + genNumber(t, "replicas")
	metaValue := rapid.SampledFrom([]string{`{` + meta + `}`, `{` + meta + `}`, `null`, `[]`, `3`}).Draw(t, "metadata")
	specValue := rapid.SampledFrom([]string{`{` + spec + `}`, `{` + spec + `}`, `null`, `{}`, `"s"`}).Draw(t, "spec")
	doc := `{"kind":"Deployment","` + key("metadata-key", "metadata") + `":` + metaValue + `,"` + key("spec-key", "spec") + `":` + specValue
	return doc + rapid.SampledFrom([]string{`}`, `}`, `,"spec":{}}`, `,"status":{"replicas":1}}`}).Draw(t, "end")
}

// validateLabels refuses what metav1validation.ValidateLabels refuses,
// with its errors, and takes what it takes.
func TestValidateLabelsMatchesUpstream(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		labels := map[string]string{}
		for range rapid.IntRange(0, 3).Draw(t, "n") {
			k := rapid.StringOfN(rapid.SampledFrom([]rune("az09-._/A")), 0, 70, -1).Draw(t, "key")
			v := rapid.StringOfN(rapid.SampledFrom([]rune("az09-._A ")), 0, 70, -1).Draw(t, "value")
			labels[k] = v
		}
		if rapid.IntRange(0, 3).Draw(t, "edge") == 0 { // what alnum must refuse
			labels[rapid.SampledFrom([]string{"-", "a-", "-a", strings.Repeat("a", 63), strings.Repeat("b", 64), "web"}).Draw(t, "edge-key")] =
				rapid.SampledFrom([]string{"", "-", "a-", strings.Repeat("c", 63), strings.Repeat("d", 64), "v1"}).Draw(t, "edge-value")
		}
		got := validateLabels(labels)
		want := metav1validation.ValidateLabels(labels, field.NewPath("metadata", "labels"))
		messages := func(errs field.ErrorList) []string { // in order: upstream follows the map's
			var out []string
			for _, e := range errs {
				out = append(out, e.Error())
			}
			slices.Sort(out)
			return out
		}
		if !slices.Equal(messages(got), messages(want)) {
			t.Fatalf("%q: %v, upstream %v", labels, got, want)
		}
	})
	for _, labels := range []map[string]string{
		{strings.Repeat("b", 64): "v"}, {"k": strings.Repeat("d", 64)}, {"-": "v"}, {"a-": "v"}, {"k": "-v"}, {"": "v"},
		{strings.Repeat("a", 63): strings.Repeat("c", 63)}, {"app": ""}, {"app": "web", "tier": "front1"},
	} {
		got, want := validateLabels(labels), metav1validation.ValidateLabels(labels, field.NewPath("metadata", "labels"))
		if (len(got) == 0) != (len(want) == 0) {
			t.Errorf("%q: %v, upstream %v", labels, got, want)
		}
	}
}

// validateName takes what the upstream rule for the kind takes, with its
// messages, whether or not the name is a plain label.
func TestValidateNameMatchesUpstream(t *testing.T) {
	reg := Builtin()
	check := func(t interface {
		Fatalf(string, ...any)
	}, kind, name string) {
		k, _ := reg.Lookup(kind)
		var msgs []string
		if kind == "namespace" || kind == "service" {
			msgs = validation.IsDNS1123Label(name)
		} else {
			msgs = validation.IsDNS1123Subdomain(name)
		}
		got := validateName(k, name, field.NewPath("metadata", "name"))
		if name == "" {
			msgs = []string{"name is required"}
		}
		if len(got) != len(msgs) {
			t.Fatalf("%s %q: %v, upstream %v", kind, name, got, msgs)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.StringOfN(rapid.SampledFrom([]rune("az09-.A_")), 0, 70, -1).Draw(t, "name")
		check(t, rapid.SampledFrom([]string{"namespace", "service", "configmap", "pod"}).Draw(t, "kind"), name)
	})
	for _, name := range []string{"web", "a", "-a", "a-", "9web", strings.Repeat("a", 63), strings.Repeat("b", 64), "a.b", "A"} {
		for _, kind := range []string{"namespace", "service", "configmap"} {
			check(t, kind, name)
		}
	}
}

// configMapKey takes only what the upstream rule takes.
func TestConfigMapKeyMatchesUpstream(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		key := rapid.StringOfN(rapid.SampledFrom([]rune("aZ09-._/ é")), 0, 260, -1).Draw(t, "key")
		if rapid.IntRange(0, 3).Draw(t, "edge") == 0 {
			key = rapid.SampledFrom([]string{"", ".", "..", "..a", ".a", "a..", strings.Repeat("k", 253), strings.Repeat("k", 254), "a/b"}).Draw(t, "edge-key")
		}
		if configMapKey(key) && len(validation.IsConfigMapKey(key)) > 0 {
			t.Fatalf("%q: taken, upstream refuses it: %v", key, validation.IsConfigMapKey(key))
		}
		if !configMapKey(key) && len(validation.IsConfigMapKey(key)) == 0 && key != "" && !strings.ContainsAny(key, "/ é") {
			t.Fatalf("%q: upstream takes it, the fast check does not", key)
		}
	})
}
