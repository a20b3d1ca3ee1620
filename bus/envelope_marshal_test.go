package bus

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidJSONNeverDisagreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`, `[]`, ` {"a":1} `, `{"a":1,"a":2}`, `{"a":[1,-2.5e+3,0,true,false,null,"x"]}`, `"x"`, `12`, `-0.0E1`,
		`{"s":"\u00e9\n\"q\"\/\b\f\r\t\\"}`, "{\"s\":\"caf\xc3\xa9\"}", "{\"s\":\"bad\xff\"}",
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":tru}`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{a:1}`,
		"{\"a\":\"x\ty\"}", `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, `{"a":1} x`, `{"a":1}{}`, ``, ` `, `{"a":"`, `{"a":"\`,
		`[[[[]]]]`, `{"a":{"b":{}}}`, `nul`, `1 2`, `{"a":1 "b":2}`, `-`, `-01`, `2.5`, `1E5`, `{"a":"\\"}`, `[1 2]`, `{,}`, `[,]`,
		strings.Repeat("[", 2000) + strings.Repeat("]", 2000),
	}
	for _, d := range docs {
		if got, want := validJSON([]byte(d)), json.Valid([]byte(d)); got && !want {
			t.Errorf("%q: validJSON true, json.Valid false", d)
		} else if got != want && len(d) < 1000 {
			t.Errorf("%q: validJSON %v, json.Valid %v", d, got, want)
		}
	}
}

// Marshal writes the head itself; it must be the bytes encoding/json writes.
func TestMarshalHeadIsEncodingJSONs(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	for _, e := range []Envelope{
		{ID: "1", Source: "user/a", Type: "t"},
		{ID: "1", Source: "user/a", Type: "t", Time: at, Subject: "configmap/ns/x", Actor: "a", CausationID: "c", CorrelationID: "d", Reason: "why", Data: []byte(`{"k":1}`)},
		{ID: "1", Source: "user/a", Type: "t", Reason: "a <b> & \"c\"\n\u2028 é", Data: []byte(`[]`)},
	} {
		got, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		w := wireOut{SpecVersion: "1.0", ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject, Actor: e.Actor,
			CausationID: e.CausationID, CorrelationID: e.CorrelationID, Reason: e.Reason}
		if !e.Time.IsZero() {
			w.Time = e.Time.Format(time.RFC3339Nano)
		}
		if len(e.Data) > 0 {
			w.DataContentType = "application/json"
		}
		want, _ := json.Marshal(w)
		if len(e.Data) > 0 {
			want = append(append(append(want[:len(want)-1], `,"data":`...), e.Data...), '}')
		}
		if string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}
