package service

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// TestRoutingKeyIsTheDecodedObject: a command is routed on the namespace
// and name decode will find in it, whatever else it carries (a subject,
// an object before them, escapes), so commands on one object share a lane
// however their senders write them.
func TestRoutingKeyIsTheDecodedObject(t *testing.T) {
	s := &Service{opt: Options{Kinds: aggregates.Builtin()}}
	for _, tc := range []struct {
		name, kind, data, want string
	}{
		{"as bus.Client writes it", "configmap", `{"namespace":"shop","name":"web","object":{"kind":"ConfigMap"}}`, "shop/web"},
		{"namespace left out", "configmap", `{"name":"web"}`, "default/web"},
		{"cluster-scoped", "namespace", `{"name":"shop"}`, "/shop"},
		{"object first", "deployment", `{"object":{"metadata":{"name":"x","namespace":"y"}},"name":"web","namespace":"shop"}`, "shop/web"},
		{"escaped", "deployment", `{"namespace":"sh\u006fp","name":"w\u0065b"}`, "shop/web"},
		{"escaped key", "deployment", `{"n\u0061me":"web","namespace":"shop"}`, "shop/web"},
		{"key in another case", "deployment", `{"Name":"web","namespace":"shop"}`, "shop/web"},
		{"not an object", "deployment", `[1]`, "default/"},
	} {
		env := bus.Envelope{ID: "1", Source: "user/test", Type: bus.CommandType(tc.kind, "apply"), Time: time.Now(), Subject: "elsewhere/other",
			Data: json.RawMessage(tc.data)}
		body, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m := &nats.Msg{Subject: bus.CommandSubject(tc.kind, "apply"), Data: body}
		ns, name := s.objectKey(tc.kind, m.Data)
		got := string(ns) + "/" + string(name)
		if got != tc.want {
			t.Errorf("%s: key %q, want %q", tc.name, got, tc.want)
		}
		if cmd, err := decodeCommand(json.RawMessage(tc.data), true); err == nil {
			k, _ := s.opt.Kinds.Lookup(tc.kind)
			if scope(k, &cmd) == nil && cmd.Namespace+"/"+cmd.Name != got {
				t.Errorf("%s: routed as %q, decoded as %s/%s", tc.name, got, cmd.Namespace, cmd.Name)
			}
		}
	}
}
