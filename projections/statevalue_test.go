package projections

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestStateValueMatchesMarshal(t *testing.T) {
	for _, obj := range []string{
		`{"kind":"Pod","metadata":{"name":"p","resourceVersion":"7"},"data":{"a":"b c\n"}}`,
		`{"kind": "Pod"}`, `{"a":"<b>"}`, `{"a":`, ``, `null`,
	} {
		want, _ := json.Marshal(StateValue{Seq: 7, Object: json.RawMessage(obj)})
		if got := stateValue(7, []byte(obj)); !bytes.Equal(got, want) {
			t.Errorf("stateValue(%q) = %q, json.Marshal %q", obj, got, want)
		}
	}
}
