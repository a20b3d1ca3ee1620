package aggregates

import (
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// TestEventDataMatchesMarshal: the event data appendEventData is sure of
// is what encoding/json writes, byte for byte.
func TestEventDataMatchesMarshal(t *testing.T) {
	taken := 0
	rapid.Check(t, func(t *rapid.T) {
		str := func(label string) string {
			return rapid.SampledFrom([]string{"", "node-1", "a.b/c", "é", `q"`, "<x>", "z"}).Draw(t, label)
		}
		var v any
		switch rapid.IntRange(0, 4).Draw(t, "type") {
		case 0:
			v = ScaledData{Replicas: rapid.Int32().Draw(t, "r"), Previous: rapid.Int32().Draw(t, "p"), Generation: rapid.Int64().Draw(t, "g")}
		case 1:
			d := LabeledData{}
			if rapid.Bool().Draw(t, "labels") {
				d.Labels = map[string]*string{}
				for range rapid.IntRange(0, 3).Draw(t, "n") {
					var val *string
					if rapid.Bool().Draw(t, "set") {
						val = new(str("value"))
					}
					d.Labels[str("key")] = val
				}
			}
			v = d
		case 2:
			v = BoundData{NodeName: str("node")}
		case 3:
			raw := rapid.SampledFrom([]string{"", `{"phase":"Running"}`, `{"a": 1}`, `{"m":"<&>"}`, `null`}).Draw(t, "status")
			v = StatusData{Status: json.RawMessage(raw)}
			if raw == "" {
				v = StatusData{}
			}
		default:
			v = metav1.Time{}
		}
		got, ok := appendEventData([]byte("prefix"), v)
		if !ok {
			return
		}
		taken++
		want, err := json.Marshal(v)
		if err != nil || string(got) != "prefix"+string(want) {
			t.Fatalf("%#v: appendEventData %s, encoding/json %s (%v)", v, got[min(len(got), len("prefix")):], want, err)
		}
	})
	if taken < 10 {
		t.Errorf("appendEventData was sure of only %d", taken)
	}
}
