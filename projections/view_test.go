package projections

import (
	"encoding/json"
	"testing"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// TestFoldRefusesInvalidCreatedData: the View serves only JSON. A created
// event whose data is not JSON (one appended to the stream by hand, not
// through the command service) is refused and leaves nothing behind; the
// next valid one is folded.
func TestFoldRefusesInvalidCreatedData(t *testing.T) {
	v := NewView(nil)
	event := func(seq uint64, verb, data string) bus.Envelope {
		return bus.Envelope{Seq: seq, StreamSubject: bus.EventSubject("configmap", "default", "cm"),
			Type: bus.EventType("configmap", verb), Data: json.RawMessage(data)}
	}
	for _, bad := range []string{`{"metadata":{"name":"cm"}`, `{"a":"\x"}`, `not json`} {
		if err := v.Fold(event(1, aggregates.Created, bad)); err == nil {
			t.Errorf("created %s: folded", bad)
		}
		if _, ok := v.Get("configmap", "default", "cm"); ok {
			t.Fatalf("created %s: the view holds it", bad)
		}
	}
	if err := v.Fold(event(2, aggregates.Created, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := v.Fold(event(3, aggregates.Labeled, `{"labels":{"a":"b"}}`)); err != nil {
		t.Fatal(err)
	}
	en, ok := v.Get("configmap", "default", "cm")
	if want := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"labels":{"a":"b"},"name":"cm"}}`; !ok || string(en.Raw) != want || en.Seq != 3 {
		t.Fatalf("entry %s at %d, want %s at 3", en.Raw, en.Seq, want)
	}
}
