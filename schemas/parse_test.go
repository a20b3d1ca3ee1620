package schemas

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// parseJSON must read what it accepts exactly as jsonschema.UnmarshalJSON
// does, and accept nothing that UnmarshalJSON refuses.
func TestParseJSONMatchesDecoder(t *testing.T) {
	docs := []string{
		`{}`, `[]`, ` {"a":1} `, `{"a":1,"a":2}`, `{"a":[1,-2.5e+3,0,true,false,null,"x"]}`,
		`{"s":"\u00e9\n\"q\""}`, "{\"s\":\"caf\xc3\xa9\"}", "{\"s\":\"bad\xff\"}", `"x"`, `12`, `-0.0E1`,
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{a:1}`,
		"{\"a\":\"x\ty\"}", `{"a":"\x"}`, `{"a":"\ud800"}`, `{"a":1} x`, `{"a":1}{}`, ``, ` `, `{"a":"`, `{"a":"\`,
		`[[[[]]]]`, `{"a":{"b":{}}}`, `nul`, `1 2`, `{"a":1 "b":2}`, `-`, `-01`, `2.5`, `1E5`, `{"a":"\\"}`,
	}
	for _, d := range docs {
		want, werr := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(d)))
		got, ok := parseJSON([]byte(d))
		if !ok {
			continue // Validate falls back to UnmarshalJSON
		}
		if werr != nil {
			t.Errorf("%q: parsed, but UnmarshalJSON says %v", d, werr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %#v, want %#v", d, got, want)
		}
	}
}

func TestParseJSONTakesCommonDocuments(t *testing.T) {
	for _, d := range []string{`{"name":"a","object":{"data":{"k":"v\n"},"n":[1,2.5,-3e2]}}`, "{\"s\":\"caf\xc3\xa9\"}", `[]`} {
		if _, ok := parseJSON([]byte(d)); !ok {
			t.Errorf("%q: fell back to the decoder", d)
		}
	}
}
