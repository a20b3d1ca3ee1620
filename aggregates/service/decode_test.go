package service

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gantry-sh/gantry/aggregates"
)

// The fast path of decodeCommand must read every command it takes exactly
// as the strict decoder does.
func TestDecodeKnownCommandMatchesStrictDecoder(t *testing.T) {
	docs := []string{
		`{}`, ` { "name" : "a" , "namespace":"ns" } `, `{"name":"a","object":{"kind":"ConfigMap","data":{"k":"}\"]"}}}`,
		`{"name":"a","replicas":3}`, `{"name":"a","replicas":null}`, `{"name":"a","labels":{"x":"1","y":null}}`,
		`{"name":"a","gracePeriodSeconds":0}`, `{"name":"caf\u00e9"}`, "{\"name\":\"caf\xc3\xa9\"}", "{\"name\":\"bad\xff\"}",
		`{"name":"a","name":"b"}`, `{"Name":"a"}`, `{"na\u006de":"a"}`, `{"name":"a","extra":1}`, `{"name":1}`,
		`{"name":null}`, `{"name":"a","object":null}`, `{"name":"a","status":{"phase":"Running"}}`, `{"name":"a","patch":[1,2]}`,
		`{"name":"a","replicas":"3"}`, `{"name":"a","replicas":1.5}`, `{"name":"a","resourceVersion":"7","nodeName":"n1"}`,
		`{"name":"a"} trailing`, `[]`, `null`, `{"name":"a","object":{}}`, `{"name":"a","object":"s"}`, `{"name":"a","object":-1.5e3}`,
		`{"name":"a","replicas":-0}`, `{"name":"a","replicas":2147483648}`, `{"name":"a","replicas":1e2}`, `{"name":"a","replicas":-3}`,
		`{"name":"a","labels":{}}`, `{"name":"a","labels":null}`, `{"name":"a","labels":{"x":"1","x":null}}`, `{"name":"a","labels":{"\u0078":"1"}}`,
		`{"name":"a","labels":{"x":"caf\u00e9"}}`, "{\"name\":\"a\",\"labels\":{\"x\":\"bad\xff\"}}", `{"name":"a","labels":{"x":1}}`, `{"name":"a","labels":[]}`,
	}
	for _, d := range docs {
		got, ok := decodeKnownCommand([]byte(d))
		if !ok {
			continue
		}
		var want aggregates.Command
		dec := json.NewDecoder(bytes.NewReader([]byte(d)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil {
			t.Errorf("%s: taken, but the strict decoder says %v", d, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", d, got, want)
		}
	}
	for _, d := range []string{`{"name":"a","namespace":"ns","object":{"data":{"k":"v"}}}`, `{"name":"a","labels":{"x":null}}`, `{"name":"a","replicas":3,"labels":{"rev":"r1"}}`} {
		if _, ok := decodeKnownCommand([]byte(d)); !ok {
			t.Errorf("%s: left to the strict decoder", d)
		}
	}
}
