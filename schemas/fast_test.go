package schemas

import (
	"bytes"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"pgregory.net/rapid"
)

// TestFastCheckAgreesWithValidator: whenever the fast path is sure, the
// general validator says the same. Documents are drawn from the schemas
// themselves (mostly valid: the properties they name, the types they
// allow), with what the fast path must get right or leave alone mixed in:
// wrong types, unknown and missing keys, keys with escapes or given
// twice, numbers that are integers only by value (1.0, 1e2), strings with
// escapes and beyond ASCII, white space.
func TestFastCheckAgreesWithValidator(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	_ = fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, path)
		}
		return nil
	})
	verdicts := map[verdict]int{}
	rapid.Check(t, func(t *rapid.T) {
		path := rapid.SampledFrom(paths).Draw(t, "schema")
		s, err := v.schema(path)
		if err != nil {
			t.Fatal(err)
		}
		doc := []byte(genFor(t, s.fast, 0))
		if rapid.IntRange(0, 9).Draw(t, "space") == 0 {
			doc = append(append([]byte(" \n"), doc...), '\t')
		}
		got := s.fast.check(doc)
		verdicts[got]++
		parsed, ok := parseJSON(doc)
		if !ok {
			t.Fatalf("drew broken JSON %s", doc)
		}
		werr := s.schema.Validate(parsed)
		if got == valid && werr != nil || got == invalid && werr == nil {
			t.Fatalf("%s: fast path says %d (0 valid, 2 invalid), the validator %v, of %s", path, got, werr, doc)
		}
	})
	t.Logf("verdicts: %d valid, %d unsure, %d invalid", verdicts[valid], verdicts[unsure], verdicts[invalid])
	if verdicts[valid] < 10 || verdicts[invalid] < 5 { // about half and a third are expected
		t.Errorf("the draws decided too little: %v", verdicts)
	}
}

// genFor draws a document for c: mostly one it admits.
func genFor(t *rapid.T, c *check, depth int) string {
	if c.ref != nil && rapid.IntRange(0, 9).Draw(t, "follow-ref") > 0 {
		return genFor(t, c.ref, depth)
	}
	if len(c.oneOf) > 0 && rapid.IntRange(0, 9).Draw(t, "follow-oneof") > 0 {
		return genFor(t, rapid.SampledFrom(c.oneOf).Draw(t, "branch"), depth)
	}
	types := []jsonTypes{typeNull, typeBoolean, typeInteger, typeNumber, typeString, typeArray, typeObject}
	allowed := slices.DeleteFunc(slices.Clone(types), func(x jsonTypes) bool { return c.types != 0 && c.types&x == 0 })
	if len(allowed) == 0 || rapid.IntRange(0, 39).Draw(t, "wrong-type") == 0 {
		allowed = types
	}
	if depth > 6 {
		allowed = slices.DeleteFunc(allowed, func(x jsonTypes) bool { return x == typeArray || x == typeObject })
		if len(allowed) == 0 {
			return `null`
		}
	}
	switch rapid.SampledFrom(allowed).Draw(t, "type") {
	case typeNull:
		return `null`
	case typeBoolean:
		return rapid.SampledFrom([]string{`true`, `false`}).Draw(t, "bool")
	case typeInteger:
		return rapid.SampledFrom([]string{`0`, `1`, `3`, `-1`, `-0`, `1.0`, `1e2`, `2.5`, `9223372036854775808`}).Draw(t, "int")
	case typeNumber:
		return rapid.SampledFrom([]string{`0`, `2.5`, `-1e-3`, `7`}).Draw(t, "number")
	case typeString:
		return rapid.SampledFrom([]string{`"x"`, `""`, `"web-1"`, `"2026-11-22T10:00:00Z"`, `"not a date"`, `"a\"b"`, `"\u0041"`, `"é"`, `"ab"`, `"100m"`}).Draw(t, "string")
	case typeArray:
		var elems []string
		for range rapid.IntRange(0, 2).Draw(t, "items") {
			if c.items != nil {
				elems = append(elems, genFor(t, c.items, depth+1))
			} else {
				elems = append(elems, `1`)
			}
		}
		return `[` + strings.Join(elems, ",") + `]`
	}
	var members []string
	names := make([]string, 0, len(c.props))
	for name := range c.props {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := 5
		if slices.Contains(c.required, name) {
			p = 18
		}
		if rapid.IntRange(0, 19).Draw(t, "include-"+name) < p {
			members = append(members, `"`+name+`":`+genFor(t, c.props[name], depth+1))
		}
	}
	for _, name := range c.required {
		if !slices.Contains(names, name) && rapid.IntRange(0, 3).Draw(t, "include-required") > 0 {
			members = append(members, `"`+name+`":`+`"x"`)
		}
	}
	if c.addl != nil {
		for range rapid.IntRange(0, 2).Draw(t, "extra") {
			members = append(members, `"`+rapid.SampledFrom([]string{"app", "tier", "a.b/c"}).Draw(t, "extra-key")+`":`+genFor(t, c.addl, depth+1))
		}
	}
	switch rapid.IntRange(0, 59).Draw(t, "odd-key") {
	case 0:
		members = append(members, `"unknownField":1`)
	case 1:
		if len(members) > 0 {
			members = append(members, members[0]) // a key twice
		}
	case 2:
		members = append(members, `"n\u0061me":"x"`)
	}
	if len(members) > 1 && rapid.Bool().Draw(t, "shuffle") {
		members[0], members[len(members)-1] = members[len(members)-1], members[0]
	}
	return `{` + strings.Join(members, ",") + `}`
}

// TestFastCheckTakesCommonCommands: the commands the control plane sends
// most are decided on the fast path, not only left to the general one.
func TestFastCheckTakesCommonCommands(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ kind, verb, data string }{
		{"deployment", "scale", `{"namespace":"bench","name":"d0","replicas":2}`},
		{"deployment", "label", `{"namespace":"bench","name":"d0","labels":{"rev":"r1","old":null}}`},
		{"pod", "bind", `{"namespace":"default","name":"web-1","nodeName":"node-7","resourceVersion":"12"}`},
		{"pod", "status", `{"namespace":"default","name":"web-1","status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-11-22T10:00:00Z"}],"podIP":"10.88.0.5","startTime":"2026-11-22T10:00:00Z","containerStatuses":[{"name":"web","ready":true,"restartCount":0,"image":"busybox:1","imageID":"","state":{"running":{"startedAt":"2026-11-22T10:00:01Z"}}}]}}`},
		{"deployment", "create", `{"namespace":"default","name":"web","object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"busybox:1","ports":[{"containerPort":8080}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}}}}`},
		{"configmap", "create", `{"namespace":"default","name":"cfg","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"b"}}}`},
	} {
		s, err := v.schema("commands/dev.gantry.cmd." + c.kind + "." + c.verb + ".v1.json")
		if err != nil {
			t.Fatal(err)
		}
		if got := s.fast.check([]byte(c.data)); got != valid {
			t.Errorf("%s %s: fast path says %d, not valid (0), of %s", c.verb, c.kind, got, c.data)
		}
		if err := v.ValidateCommand(c.kind, c.verb, []byte(c.data)); err != nil {
			t.Errorf("%s %s: %v", c.verb, c.kind, err)
		}
	}
}

// TestFastCheckEdges: schemas the generated ones do not have yet (overlapping
// oneOf branches, minLength above 1, integers only), each document's fast
// verdict against the general validator's and against what is expected.
func TestFastCheckEdges(t *testing.T) {
	schemas := map[string]string{
		"one.json":  `{"oneOf":[{"type":"integer"},{"type":"number","minimum":0}]}`,
		"min.json":  `{"type":"string","minLength":3}`,
		"int.json":  `{"type":"integer","minimum":-1}`,
		"ref.json":  `{"$defs":{"a~b/c":{"type":"object","required":["x"],"additionalProperties":{"type":["string","null"]}}},"$ref":"#/$defs/a~0b~1c"}`,
		"deny.json": `{"type":"object","properties":{"n":false,"y":true},"additionalProperties":false}`,
		"odd.json":  `{"type":"string","pattern":"^a"}`,
	}
	docs := map[string]any{}
	c := jsonschema.NewCompiler()
	for name, s := range schemas {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = doc
		if err := c.AddResource(Base+name, doc); err != nil {
			t.Fatal(err)
		}
	}
	fc := newFastCompiler(docs)
	for _, tc := range []struct {
		schema, doc string
		want        verdict
	}{
		{"one.json", `3`, invalid}, // both branches
		{"one.json", `-1`, valid},
		{"one.json", `2.5`, unsure}, // an integer only by value? 2.5 is not, but the fast path does not look
		{"one.json", `"x"`, invalid},
		{"min.json", `"abc"`, valid},
		{"min.json", `"ab"`, invalid},
		{"min.json", `""`, invalid},
		{"min.json", `"éé"`, unsure}, // four bytes, two characters
		{"min.json", `"a\nb"`, unsure},
		{"int.json", `2`, valid},
		{"int.json", `-2`, invalid},
		{"int.json", `2.5`, unsure},
		{"int.json", `1e2`, unsure},
		{"int.json", `9223372036854775808`, unsure},
		{"int.json", `true`, invalid},
		{"ref.json", `{"x":"1","y":null}`, valid},
		{"ref.json", `{"y":"1"}`, invalid},
		{"ref.json", `{"x":1}`, invalid},
		{"ref.json", `{"x":1,"x":"1"}`, unsure}, // the last one counts
		{"ref.json", `{"\u0078":"1"}`, unsure},
		{"deny.json", `{"y":[1]}`, valid},
		{"deny.json", `{"n":1}`, invalid},
		{"deny.json", `{"z":1}`, invalid},
		{"odd.json", `"abc"`, unsure}, // pattern: not known to the fast path
	} {
		got := fc.compile(tc.schema, "").check([]byte(tc.doc))
		s, err := c.Compile(Base + tc.schema)
		if err != nil {
			t.Fatal(err)
		}
		parsed, _ := parseJSON([]byte(tc.doc))
		werr := s.Validate(parsed)
		if got == valid && werr != nil || got == invalid && werr == nil {
			t.Errorf("%s %s: fast path %d, validator %v", tc.schema, tc.doc, got, werr)
		}
		if got != tc.want {
			t.Errorf("%s %s: fast path %d, want %d", tc.schema, tc.doc, got, tc.want)
		}
	}
}

// BenchmarkValidateCommand: a command's validation, the fast path against
// the general validator alone (parseJSON and jsonschema).
//
//	go test ./schemas -run '^$' -bench ValidateCommand -benchmem
func BenchmarkValidateCommand(b *testing.B) {
	v, err := NewValidator()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, kind, verb, data string }{
		{"scale", "deployment", "scale", `{"namespace":"bench","name":"d0","replicas":2}`},
		{"create-deployment", "deployment", "create", `{"namespace":"default","name":"web","object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"busybox:1","ports":[{"containerPort":8080}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}}}}`},
	} {
		s, err := v.schema("commands/dev.gantry.cmd." + c.kind + "." + c.verb + ".v1.json")
		if err != nil {
			b.Fatal(err)
		}
		data := []byte(c.data)
		b.Run(c.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if err := v.ValidateCommand(c.kind, c.verb, data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/general", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				doc, _ := parseJSON(data)
				if err := s.schema.Validate(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzFastCheck: on any bytes, the fast path is never sure of the opposite
// of what the general validator decides (go test runs the seeds; `go test
// -fuzz FuzzFastCheck ./schemas` searches further).
func FuzzFastCheck(f *testing.F) {
	v, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	paths := []string{
		"commands/dev.gantry.cmd.deployment.scale.v1.json", "commands/dev.gantry.cmd.deployment.label.v1.json",
		"commands/dev.gantry.cmd.pod.status.v1.json", "commands/dev.gantry.cmd.deployment.create.v1.json",
		"commands/dev.gantry.cmd.configmap.create.v1.json", "commands/dev.gantry.cmd.service.apply.v1.json",
	}
	for i, seed := range []string{
		`{"namespace":"bench","name":"d0","replicas":2}`,
		`{"namespace":"bench","name":"d0","labels":{"rev":"r1","old":null}}`,
		`{"name":"p","status":{"phase":"Running","containerStatuses":[{"name":"c","ready":true,"restartCount":0,"image":"i","imageID":"","state":{"running":{"startedAt":"2026-11-22T10:00:00Z"}}}]}}`,
		`{"name":"web","object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"w","image":"i","resources":{"requests":{"cpu":"100m","memory":1e3}}}]}}}}}`,
		`{"name":"cm","object":{"data":{"a":"b","c":"\u00e9"},"binaryData":{"x":"AAE="}}}`,
		`{"name":"s","object":{"spec":{"ports":[{"port":80,"targetPort":"http"}],"type":"NodePort"}}}`,
	} {
		f.Add(i, []byte(seed))
	}
	f.Fuzz(func(t *testing.T, i int, doc []byte) {
		s, err := v.schema(paths[(i%len(paths)+len(paths))%len(paths)])
		if err != nil {
			t.Fatal(err)
		}
		got := s.fast.check(doc)
		if got == unsure {
			return
		}
		parsed, ok := parseJSON(doc)
		if !ok {
			var err error
			if parsed, err = jsonschema.UnmarshalJSON(bytes.NewReader(doc)); err != nil {
				t.Fatalf("fast path says %d of a document the validator cannot read (%v): %q", got, err, doc)
			}
		}
		werr := s.schema.Validate(parsed)
		if got == valid && werr != nil || got == invalid && werr == nil {
			t.Fatalf("fast path says %d (0 valid, 2 invalid), the validator %v, of %q", got, werr, doc)
		}
	})
}
