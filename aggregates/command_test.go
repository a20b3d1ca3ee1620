package aggregates

import (
	"encoding/json"
	"testing"

	"pgregory.net/rapid"
)

// TestCommandAppendJSONMatchesMarshal: whenever AppendJSON is sure, it
// writes what encoding/json does, byte for byte; the draws mix in what it
// must leave to encoding/json (strings it escapes, raw members with white
// space or HTML characters).
func TestCommandAppendJSONMatchesMarshal(t *testing.T) {
	taken := 0
	str := func(t *rapid.T, label string) string {
		if rapid.IntRange(0, 9).Draw(t, label+"-odd") == 0 {
			return rapid.SampledFrom([]string{"a<b", `q"`, "é", "x\ty"}).Draw(t, label)
		}
		return rapid.SampledFrom([]string{"", "web", "default", "a.b-c", "12", "z"}).Draw(t, label)
	}
	rawMsg := func(t *rapid.T, label string) json.RawMessage {
		v := rapid.SampledFrom([]string{"", "", `{"a":1}`, `null`, `[1,"x"]`, `"x"`, `{"a": 1}`, `{"s":"<&>"}`, `{"k":"é"}`}).Draw(t, label)
		if v == "" {
			return nil
		}
		return json.RawMessage(v)
	}
	rapid.Check(t, func(t *rapid.T) {
		c := Command{Kind: "pod", Verb: "bind", Namespace: str(t, "ns"), Name: str(t, "name"), ResourceVersion: str(t, "rv"),
			Object: rawMsg(t, "object"), NodeName: str(t, "node"), Status: rawMsg(t, "status"), Patch: rawMsg(t, "patch")}
		if rapid.Bool().Draw(t, "replicas") {
			c.Replicas = new(rapid.Int32().Draw(t, "replicas-n"))
		}
		if rapid.Bool().Draw(t, "grace") {
			c.GracePeriodSeconds = new(rapid.Int64().Draw(t, "grace-n"))
		}
		if n := rapid.IntRange(0, 3).Draw(t, "labels"); n > 0 || rapid.Bool().Draw(t, "empty-labels") {
			c.Labels = map[string]*string{}
			for range n {
				var v *string
				if rapid.Bool().Draw(t, "label-set") {
					v = new(str(t, "label-value"))
				}
				c.Labels[str(t, "label-key")] = v
			}
		}
		got, ok := c.AppendJSON([]byte("prefix"))
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		taken++
		if string(got) != "prefix"+string(want) {
			t.Fatalf("AppendJSON %s\nencoding/json %s", got[len("prefix"):], want)
		}
	})
	t.Logf("AppendJSON was sure of %d commands", taken)
	if taken < 3 {
		t.Errorf("AppendJSON was sure of only %d commands", taken)
	}
	if _, ok := (Command{Namespace: "default", Name: "web", Replicas: new(int32(3)), Object: json.RawMessage(`{"kind":"Deployment"}`)}).AppendJSON(nil); !ok {
		t.Error("AppendJSON declined a plain command")
	}
}
