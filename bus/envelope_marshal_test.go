package bus

import (
	"encoding/json"
	"testing"
	"time"
)

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
		// Into a slice lent from the pool, written before (as the client
		// and the store write): the same bytes after what was there.
		prefixed, err := e.appendTo([]byte("prefix"), false)
		if err != nil || string(prefixed) != "prefix"+string(want) {
			t.Errorf("appended after a prefix: %s, %v\nwant prefix%s", prefixed, err, want)
		}
	}
}
