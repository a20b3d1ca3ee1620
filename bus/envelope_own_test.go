package bus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestUnmarshalOwnMatchesGeneral: whenever the fast decoder takes an
// envelope, it decodes what the jsoniter decoder does.
func TestUnmarshalOwnMatchesGeneral(t *testing.T) {
	taken := 0
	rapid.Check(t, func(t *rapid.T) {
		body := genEnvelope(t)
		got, ok := unmarshalOwn(body)
		if !ok {
			return
		}
		taken++
		want, err := unmarshalGeneral(body)
		if err != nil {
			t.Fatalf("fast decoder took %s; the general one fails: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\nfast    %+v\ngeneral %+v", body, got, want)
		}
		lean, err := unmarshalLean(body)
		if err != nil || lean.Type != want.Type || !bytes.Equal(lean.Data, want.Data) || (lean.Data == nil) != (want.Data == nil) {
			t.Fatalf("%s: lean %+v (%v), want type %q data %s", body, lean, err, want.Type, want.Data)
		}
	})
	t.Logf("fast decoder took %d envelopes", taken)
	if taken < 10 {
		t.Errorf("the fast decoder took only %d envelopes", taken)
	}
}

// genEnvelope draws a structured-mode envelope: half of them as Marshal
// writes them, the rest with the quirks a decoder must decline or get
// right (odd strings, missing or extra members, other cases, broken JSON).
func genEnvelope(t *rapid.T) []byte {
	clean := rapid.Bool().Draw(t, "clean") // half the envelopes as Marshal writes them
	str := func(label string) string {
		if clean || rapid.IntRange(0, 39).Draw(t, label+"-odd") > 0 {
			return rapid.SampledFrom([]string{"x", "user/alice", "6600ad99-1fd3-47de-880a-0ca035ec44cd"}).Draw(t, label)
		}
		return rapid.SampledFrom([]string{"", `a\"b`, "é", "a\tb", "<&>", "%zz", "http://[::1"}).Draw(t, label)
	}
	members := []string{
		`"specversion":"` + pick(t, clean, "version", "1.0", "0.3", "") + `"`,
		`"id":"` + str("id") + `"`,
		`"source":"` + str("source") + `"`,
		`"type":"` + pick(t, clean, "type", EventType("pod", "created"), "t", "") + `"`,
		`"subject":"` + str("subject") + `"`,
		`"datacontenttype":"` + pick(t, clean, "content-type", "application/json", "application/json; charset=utf-8", "text/plain", "") + `"`,
		`"time":` + pick(t, clean, "time", `"2026-11-22T10:00:00Z"`, `"2026-11-22T10:00:00.123456789+02:00"`, `"yesterday"`, `null`, `3`),
		`"actor":"` + str("actor") + `"`,
		`"causationid":"` + str("causation") + `"`,
		`"correlationid":"` + str("correlation") + `"`,
		`"reason":"` + str("reason") + `"`,
		`"data":` + rapid.SampledFrom([]string{`{"a":[1,2,{"b":"}\"]"}],"c":null}`, `"s"`, `12`, `null`, `[]`, `{}`, `{"x":"\\"}`, ` { "a" : 1 } `}).Draw(t, "data"),
		rapid.SampledFrom([]string{`"extra":{"a":1}`, `"ID":"y"`, `"data_base64":"e30="`, `"Data":{}`, `"subject":null`, `"x":[1,"]"]`}).Draw(t, "odd"),
	}
	var kept []string
	for i, m := range members {
		if i < len(members)-1 && (clean || rapid.IntRange(0, 19).Draw(t, "drop") > 0) || i == len(members)-1 && !clean && rapid.IntRange(0, 3).Draw(t, "odd-in") == 0 {
			kept = append(kept, m)
		}
	}
	if rapid.Bool().Draw(t, "shuffle") {
		for i := range kept {
			j := rapid.IntRange(0, len(kept)-1).Draw(t, "swap")
			kept[i], kept[j] = kept[j], kept[i]
		}
	}
	sep := rapid.SampledFrom([]string{",", " , ", ",\n"}).Draw(t, "sep")
	body := []byte("{" + strings.Join(kept, sep) + "}")
	if !clean && rapid.IntRange(0, 10).Draw(t, "break") == 0 && len(body) > 2 {
		at := rapid.IntRange(1, len(body)-1).Draw(t, "break-at")
		body = append(body[:at:at], body[at+1:]...)
	}
	return body
}

// pick draws one of choices, the first if clean.
func pick(t *rapid.T, clean bool, label string, choices ...string) string {
	if clean {
		return choices[0]
	}
	return rapid.SampledFrom(choices).Draw(t, label)
}

// TestDecodeStructuredOwnMatchesGeneral: a command's envelope decodes, or
// is refused with the same error, with and without the fast path.
func TestDecodeStructuredOwnMatchesGeneral(t *testing.T) {
	for _, body := range []string{ // the refusals the fast path makes itself
		`{"specversion":"1.0","id":"1","source":"%zz","type":"t","data":{}}`,
		`{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"text/plain","data":{}}`,
		`{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/json; charset=utf-8","data":{}}`,
	} {
		got, ok, err := decodeStructuredOwn([]byte(body))
		want, werr := decodeStructuredGeneral([]byte(body))
		if !ok || fmt.Sprint(err) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nfast    %v %+v %v\ngeneral %+v %v", body, ok, got, err, want, werr)
		}
	}
	taken := 0
	rapid.Check(t, func(t *rapid.T) {
		body := genEnvelope(t)
		got, ok, err := decodeStructuredOwn(body)
		if !ok {
			return
		}
		taken++
		want, werr := decodeStructuredGeneral(body)
		if fmt.Sprint(err) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\nfast    %+v %v\ngeneral %+v %v", body, got, err, want, werr)
		}
	})
	t.Logf("fast path took %d envelopes", taken)
	if taken < 10 {
		t.Errorf("the fast path took only %d envelopes", taken)
	}
}

func TestUnmarshalOwnTakesMarshal(t *testing.T) {
	e := Envelope{ID: "1", Source: "user/alice", Type: EventType("deployment", "scaled"), Subject: "deployment/default/web",
		Time: time.Date(2026, 11, 22, 1, 2, 3, 4, time.UTC), Actor: "alice", CausationID: "c1", CorrelationID: "r1", Reason: "spike",
		Data: json.RawMessage(`{"replicas":5,"s":"\"}"}`)}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := unmarshalOwn(b)
	want, err := unmarshalGeneral(b)
	if !ok || err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("fast %v %+v\ngeneral %v %+v", ok, got, err, want)
	}
}

func TestAckMetadata(t *testing.T) {
	for _, c := range []struct {
		reply        string
		seq, pending uint64
		ts           int64
		ok           bool
	}{
		{"$JS.ACK.GANTRY_EVENTS.c1.1.42.7.1763805600000000000.9", 42, 9, 1763805600000000000, true},
		{"$JS.ACK._.HASH.GANTRY_EVENTS.c1.1.42.7.1763805600000000000.9.xyz", 42, 9, 1763805600000000000, true},
		{"$JS.ACK.dom.HASH.GANTRY_EVENTS.c1.1.43.7.1763805600000000001.0", 43, 0, 1763805600000000001, true},
		{"$JS.ACK.dom.HASH.GANTRY_EVENTS.c1.1.44.7.5.3.a.b.c", 44, 3, 5, true},
		{"$JS.ACK.GANTRY_EVENTS.c1.1.42.7.1763805600000000000", 0, 0, 0, false},
		{"$JS.ACK.a.b.GANTRY_EVENTS.c1.1.42.7.1763805600000000000", 0, 0, 0, false},
		{"_INBOX.x", 0, 0, 0, false},
	} {
		seq, pending, ts, ok := ackMetadata(c.reply)
		if ok != c.ok || ok && (seq != c.seq || pending != c.pending || !ts.Equal(time.Unix(0, c.ts))) {
			t.Errorf("ackMetadata(%q) = %d %d %v %v", c.reply, seq, pending, ts, ok)
		}
	}
}
