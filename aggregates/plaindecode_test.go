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

	"pgregory.net/rapid"
)

// TestDecodePlainMatchesStrict: whenever the fast decode takes a
// manifest, the strict decoder takes it too, with no strict error, and
// both fill the same object. Manifests are drawn from each kind's Go type
// (every field it has, nested to the bottom), with what the fast decode
// must decline or get right mixed in: unknown, repeated, escaped and
// wrongly cased keys, wrong types, nulls, numbers that are integers only
// by value or that overflow, escapes, invalid UTF-8, characters
// encoding/json escapes, bad base64, white space.
func TestDecodePlainMatchesStrict(t *testing.T) {
	kinds := Builtin().Kinds()
	taken, refused := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		k := rapid.SampledFrom(kinds).Draw(t, "kind")
		g := gen{tame: rapid.Bool().Draw(t, "tame")}
		doc := []byte(g.manifest(t, reflect.TypeOf(k.New()).Elem(), 0))
		if rapid.IntRange(0, 9).Draw(t, "space") == 0 {
			doc = append(append([]byte(" \n"), doc...), '\t')
		}
		fast := k.New()
		if !decodePlain(doc, fast) {
			refused++
			return
		}
		taken++
		strict := k.New()
		if err := decodeStrict(k, doc, strict); err != nil {
			t.Fatalf("%s: the fast decode took %s; the strict one refuses it: %v", k.Name, doc, err)
		}
		if !reflect.DeepEqual(fast, strict) {
			f, _ := json.Marshal(fast)
			s, _ := json.Marshal(strict)
			t.Fatalf("%s: %s decodes differently:\nfast   %s\nstrict %s", k.Name, doc, f, s)
		}
	})
	// About a third of the draws are plain and well typed; fewer than
	// five in a hundred means the generator broke.
	t.Logf("the fast decode took %d manifests and left %d to the strict one", taken, refused)
	if taken < 5 || refused < 5 {
		t.Errorf("the draws decided too little: %d taken, %d refused", taken, refused)
	}
}

// TestDecodeManifestRefusalsUnchanged: what the fast decode leaves to the
// strict one is refused as before, with the same words.
func TestDecodeManifestRefusalsUnchanged(t *testing.T) {
	k, _ := BuiltinKind("ConfigMap")
	for _, tc := range []struct{ doc, want string }{
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"}}`, `duplicate field "metadata.name"`},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"date":{}}`, `unknown field "date"`},
		{`{"apiVersion":"v1","kind":"ConfigMap","Metadata":{"name":"a"}}`, `unknown field "Metadata"`},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":1}}`, `cannot unmarshal number into field data of type string`},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"immutable":1.0}`, `cannot unmarshal number into field immutable of type bool`},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","generation":1.5}}`, `cannot unmarshal number 1.5 into field metadata.generation of type int64`},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}`, `unexpected end of JSON input`},
	} {
		_, _, err := DecodeManifest(k, []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.doc, err, tc.want)
		}
	}
}

// gen draws JSON documents for Go types. A tame one draws only what
// decodes, and what the fast decode must take: about half the draws.
type gen struct{ tame bool }

// pick draws from tame, or when the generator is not tame from odd too.
func (g gen) pick(t *rapid.T, label string, tame []string, odd ...string) string {
	if g.tame {
		return rapid.SampledFrom(tame).Draw(t, label)
	}
	return rapid.SampledFrom(append(slices.Clip(tame), odd...)).Draw(t, label)
}

// manifest draws a JSON document for typ: mostly one it decodes.
func (g gen) manifest(t *rapid.T, typ reflect.Type, depth int) string {
	if !g.tame && rapid.IntRange(0, 49).Draw(t, "wrong-type") == 0 {
		return rapid.SampledFrom(oddTokens).Draw(t, "odd")
	}
	if depth > 10 {
		return "null"
	}
	if typ.Kind() == reflect.Pointer {
		if rapid.IntRange(0, 9).Draw(t, "nil") == 0 {
			return "null"
		}
		return g.manifest(t, typ.Elem(), depth)
	}
	if typ.Implements(unmarshaler) || reflect.PointerTo(typ).Implements(unmarshaler) {
		tame, ok := customTokens[typ.String()]
		if !ok {
			t.Fatalf("no tokens for %s, which decodes itself", typ)
		}
		return g.pick(t, "custom", tame, `"not a date"`, `"x"`, `0.5`, `{"a":1}`, `1`, `null`, `"50%"`)
	}
	switch typ.Kind() {
	case reflect.Bool:
		return rapid.SampledFrom([]string{`true`, `false`}).Draw(t, "bool")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return g.pick(t, "int", []string{`0`, `1`, `3`, `-1`, `-0`, `8080`, `2147483647`}, `1.0`, `1e2`, `2.5`, `2147483648`, `-2147483649`, `9223372036854775808`, `"1"`)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return g.pick(t, "uint", []string{`0`, `1`, `3`, `8080`}, `-1`, `1.0`, `1e2`, `18446744073709551616`, `"1"`)
	case reflect.Float32, reflect.Float64:
		return g.pick(t, "float", []string{`0`, `1`, `-3`}, `2.5`, `-1e-3`, `1.0`)
	case reflect.String:
		return g.pick(t, "string", []string{`"x"`, `""`, `"web-1"`, `"Always"`, `"TCP"`, `"é"`, `"<&>"`, `"ab"`, `"100m"`, `"a\"b"`, `"\u0041"`, `"\ud800"`, `"\ud83d\ude00"`, `"a\nb\t\u00e9\/"`}, "\"\xff\"", "\"\xed\xa0\x80\"")
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.Uint8 {
			return g.pick(t, "bytes", []string{`"aGk="`, `""`, `null`}, `"aGk"`, `"!!"`, `"aG\nk="`)
		}
		var elems []string
		for range rapid.IntRange(0, 2).Draw(t, "elems") {
			elems = append(elems, g.manifest(t, typ.Elem(), depth+1))
		}
		return "[" + strings.Join(elems, ",") + "]"
	case reflect.Map:
		n := rapid.IntRange(0, 2).Draw(t, "entries")
		if rapid.IntRange(0, 19).Draw(t, "many-entries") == 0 {
			n = 40 // past the keys plainObject compares in turn
		}
		var members []string
		for i := range n {
			key := `"k` + strconv.Itoa(i) + `"`
			switch {
			case !g.tame && rapid.IntRange(0, 29).Draw(t, "escaped-key") == 0:
				key = `"k\u0041"`
			case i > 0 && rapid.IntRange(0, 3*n).Draw(t, "repeat-key") == 0: // a map takes no key twice
				key = members[rapid.IntRange(0, i-1).Draw(t, "repeated")]
				key = key[:strings.Index(key, ":")]
			case !g.tame && rapid.IntRange(0, 29).Draw(t, "invalid-key") == 0:
				key = "\"k\xff\"" // invalid UTF-8
			case i == 0:
				key = rapid.SampledFrom([]string{`"app"`, `"a.b/c"`, `"é"`}).Draw(t, "map-key")
			}
			members = append(members, key+":"+g.manifest(t, typ.Elem(), depth+1))
		}
		return "{" + strings.Join(members, ",") + "}"
	case reflect.Struct:
		return g.object(t, typ, depth)
	case reflect.Interface:
		return g.pick(t, "any", []string{`{"a":1}`, `1`, `"x"`}, `[1.5]`)
	}
	return "null"
}

func (g gen) object(t *rapid.T, typ reflect.Type, depth int) string {
	var members []string
	for _, f := range jsonFields(typ) {
		p := 3
		if depth < 2 {
			p = 10
		}
		if rapid.IntRange(0, 19).Draw(t, "include-"+f.name) < p {
			members = append(members, `"`+f.name+`":`+g.manifest(t, f.typ, depth+1))
		}
	}
	odd := 0
	if !g.tame {
		odd = rapid.IntRange(0, 8).Draw(t, "odd-key")
	}
	switch {
	case odd == 1:
		members = append(members, `"unknownField":1`)
	case odd == 2 && len(members) > 0:
		members = append(members, members[0]) // a key twice
	case odd == 3 && len(members) > 0:
		members[0] = escapeKey(members[0])
	case odd == 4 && len(members) > 0:
		members = append(members, escapeKey(members[0])) // a key twice, once escaped
	case odd == 5 && len(members) > 0: // a key in another case
		members[0] = `"` + strings.ToUpper(members[0][1:2]) + members[0][2:]
	}
	if len(members) > 1 && rapid.Bool().Draw(t, "shuffle") {
		members[0], members[len(members)-1] = members[len(members)-1], members[0]
	}
	return "{" + strings.Join(members, ",") + "}"
}

// escapeKey writes a member's key with its first letter escaped.
func escapeKey(member string) string {
	return fmt.Sprintf(`"\u%04x%s`, member[1], member[2:])
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the members encoding/json reads into typ, embedded
// structs' fields promoted.
func jsonFields(typ reflect.Type) []jsonField {
	var out []jsonField
	for f := range typ.Fields() {
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name, f.Type})
	}
	return slices.Clip(out)
}

var (
	unmarshaler = reflect.TypeFor[json.Unmarshaler]()
	oddTokens   = []string{`null`, `1`, `"x"`, `true`, `{}`, `[]`, `1.5`}
	// customTokens: what each type that decodes itself takes.
	customTokens = map[string][]string{
		"v1.Time":                  {`"2026-11-22T10:00:00Z"`, `null`},
		"v1.MicroTime":             {`"2026-11-22T10:00:00.123456Z"`, `null`},
		"v1.Duration":              {`"30s"`},
		"resource.Quantity":        {`"100m"`, `"1Gi"`, `"0.5"`, `1`, `"1e3"`},
		"intstr.IntOrString":       {`8080`, `"http"`, `"50%"`},
		"runtime.RawExtension":     {`{"a":1}`, `null`},
		"v1.FieldsV1":              {`{"f:a":{}}`},
		"v1.JSON":                  {`{"a":1}`, `"x"`},
		"v1.JSONSchemaPropsOrBool": {`true`},
	}
)

// TestUnmarshalMatchesEncodingJSON: what Gantry stores — objects as
// encoding/json writes them — Unmarshal decodes as encoding/json does.
// The objects are the tame manifests TestDecodePlainMatchesStrict draws,
// decoded strictly and written back.
func TestUnmarshalMatchesEncodingJSON(t *testing.T) {
	kinds := Builtin().Kinds()
	decoded := 0
	rapid.Check(t, func(t *rapid.T) {
		k := rapid.SampledFrom(kinds).Draw(t, "kind")
		doc := []byte(gen{tame: true}.manifest(t, reflect.TypeOf(k.New()).Elem(), 0))
		obj := k.New()
		if decodeStrict(k, doc, obj) != nil {
			return
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		want, got := k.New(), k.New()
		if err := json.Unmarshal(raw, want); err != nil {
			t.Fatal(err)
		}
		if err := Unmarshal(raw, got); err != nil {
			t.Fatalf("%s: %s: %v", k.Name, raw, err)
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			t.Fatalf("%s: %s decodes differently:\nUnmarshal      %s\nencoding/json  %s", k.Name, raw, g, raw)
		}
		decoded++
	})
	t.Logf("%d drawn objects compared", decoded)
	if decoded < 20 {
		t.Errorf("only %d of the drawn manifests were objects", decoded)
	}
}

// TestStatusJSONMatchesWholeObject: a status command compares statuses as
// the whole object's JSON writes them, though it marshals and decodes only
// the status.
func TestStatusJSONMatchesWholeObject(t *testing.T) {
	kinds := Builtin().Kinds()
	rapid.Check(t, func(t *rapid.T) {
		k := rapid.SampledFrom(kinds).Draw(t, "kind")
		obj := k.New()
		if decodeStrict(k, []byte(gen{tame: true}.manifest(t, reflect.TypeOf(obj).Elem(), 0)), obj) != nil {
			return
		}
		raw, _ := json.Marshal(obj)
		var whole struct {
			Status json.RawMessage `json:"status"`
		}
		if err := json.Unmarshal(raw, &whole); err != nil {
			t.Fatal(err)
		}
		got, err := statusJSON(obj)
		if err != nil || !bytes.Equal(got, whole.Status) {
			t.Fatalf("%s: statusJSON %s (%v), the object's status %s", k.Name, got, err, whole.Status)
		}
		if got, err = storedStatus(k, raw); err != nil || !bytes.Equal(got, whole.Status) {
			t.Fatalf("%s: storedStatus of %s: %s (%v), want %s", k.Name, raw, got, err, whole.Status)
		}
	})
}

// TestWarningsMatchWalkingEveryPath: warnings skips the walk for a field
// whose key appears nowhere, and names what walking every path names.
func TestWarningsMatchWalkingEveryPath(t *testing.T) {
	var kinds []*Kind
	for _, k := range Builtin().Kinds() {
		if len(k.Unimplemented) > 0 {
			kinds = append(kinds, k)
		}
	}
	named := 0
	rapid.Check(t, func(t *rapid.T) {
		k := rapid.SampledFrom(kinds).Draw(t, "kind")
		doc := []byte(gen{tame: rapid.Bool().Draw(t, "tame")}.manifest(t, reflect.TypeOf(k.New()).Elem(), 0))
		var want []string
		for _, path := range k.Unimplemented {
			if present(doc, path) {
				want = append(want, fmt.Sprintf("%s %q: field %s is accepted but not implemented by Gantry", k.Name, nameOf(doc), path))
			}
		}
		if got := warnings(k, doc); !slices.Equal(got, want) {
			t.Fatalf("%s: %s: warnings %q, walking every path %q", k.Name, doc, got, want)
		}
		named += len(want)
	})
	t.Logf("%d warnings named", named)
}
