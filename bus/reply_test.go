package bus

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"pgregory.net/rapid"
)

// TestDecodeReplyMatchesEncodingJSON: decodeReply reads every reply as
// encoding/json does, and takes the usual shape (seq, event, unchanged,
// object) itself. The draws mix in what it must leave to encoding/json:
// warnings, a status, keys in another case or with escapes, nulls, numbers
// that are not unsigned integers, strings with escapes, broken JSON.
func TestDecodeReplyMatchesEncodingJSON(t *testing.T) {
	taken := 0
	rapid.Check(t, func(t *rapid.T) {
		var b strings.Builder
		b.WriteByte('{')
		for i := range rapid.IntRange(0, 5).Draw(t, "members") {
			if i > 0 {
				b.WriteByte(',')
			}
			key := rapid.SampledFrom([]string{"seq", "event", "unchanged", "object", "warnings", "status", "Seq", `s\u0065q`, "EVENT", "other"}).Draw(t, "key")
			values := map[string][]string{
				"seq":       {`0`, `17`, `18446744073709551615`, `18446744073709551616`, `-1`, `1.0`, `1e3`, `"3"`, `null`},
				"event":     {`"scaled"`, `""`, `"a\"b"`, `"<&>"`, `null`, `1`},
				"unchanged": {`true`, `false`, `null`, `"true"`},
				"object":    {`{"kind":"Deployment","metadata":{"name":"web"}}`, `{}`, `null`, `[1,2]`, `"x"`, `{"a":"<&>","b":[true,null]}`},
				"warnings":  {`["w"]`, `null`, `[]`},
				"status":    {`{"status":"Failure","message":"no","code":409}`, `null`},
			}[strings.ToLower(strings.ReplaceAll(key, `\u0065`, "e"))]
			if values == nil {
				values = []string{`1`, `"x"`, `{}`}
			}
			b.WriteString(`"` + key + `":` + rapid.SampledFrom(values).Draw(t, "value"))
		}
		b.WriteByte('}')
		data := []byte(b.String())
		if rapid.IntRange(0, 15).Draw(t, "break") == 0 {
			i := rapid.IntRange(0, len(data)-1).Draw(t, "break-at")
			data = append(data[:i:i], data[i+1:]...)
		}
		var want Reply
		werr := json.Unmarshal(data, &want)
		var got Reply
		if replyOwn(data, &got) {
			taken++
			if werr != nil {
				t.Fatalf("replyOwn took %s, encoding/json: %v", data, werr)
			}
		}
		got = Reply{}
		err := decodeReply(data, &got)
		if (err == nil) != (werr == nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeReply(%s) = %+v, %v; encoding/json %+v, %v", data, got, err, want, werr)
		}
	})
	if taken < 3 {
		t.Errorf("replyOwn took only %d replies", taken)
	}
	for _, data := range []string{`{"seq":12,"event":"scaled","object":{"kind":"Deployment","metadata":{"name":"web","resourceVersion":"12"}}}`, `{"seq":3,"unchanged":true,"object":{}}`, `{}`} {
		var r Reply
		if !replyOwn([]byte(data), &r) {
			t.Errorf("replyOwn declined %s", data)
		}
	}
}

// FuzzDecodeReply: on any bytes, decodeReply reads what encoding/json
// reads, or fails where it fails.
func FuzzDecodeReply(f *testing.F) {
	for _, seed := range []string{`{"seq":12,"event":"scaled","object":{"kind":"Deployment"}}`, `{"seq":3,"unchanged":true}`,
		`{"status":{"status":"Failure","code":409},"warnings":["w"]}`, `{"Seq":1,"seq":2}`, `{"object":null}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want, got Reply
		werr := json.Unmarshal(data, &want)
		err := decodeReply(data, &got)
		if (err == nil) != (werr == nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeReply(%q) = %+v, %v; encoding/json %+v, %v", data, got, err, want, werr)
		}
	})
}

// Marshal writes every reply so that decoding it gives it back.
func TestMarshalReplyRoundTrips(t *testing.T) {
	obj := json.RawMessage(`{"kind":"Deployment","metadata":{"name":"web","resourceVersion":"12"}}`)
	for _, r := range []Reply{
		{Seq: 12, Event: "scaled", Object: obj},
		{Seq: 12, Unchanged: true, Object: obj},
		{Seq: 3, Event: "labeled"},
		{},
		{Seq: 4, Event: "created", Warnings: []string{"spec.foo: not implemented"}, Object: obj},
		{Status: &metav1.Status{Status: metav1.StatusFailure, Message: "no", Reason: metav1.StatusReasonConflict, Code: 409}},
		{Seq: 5, Event: `we"ird`},
	} {
		var got Reply
		if err := json.Unmarshal(r.Marshal(), &got); err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("%+v: wrote %s, read back %+v (%v)", r, r.Marshal(), got, err)
		}
	}
}
