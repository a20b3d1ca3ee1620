package service

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// TestRoutingKeyIsTheDecodedObject: a command is routed on the kind,
// namespace and name decode will find in it, whatever else it carries (a
// subject, an object before them, escapes, keys in another case or given
// twice, a data member written otherwise, binary mode, the kind by its
// plural), so commands on one object share a lane however their senders
// write them.
func TestRoutingKeyIsTheDecodedObject(t *testing.T) {
	s := &Service{opt: Options{Kinds: aggregates.Builtin()}}
	structured := func(kind, data string) *nats.Msg {
		env := bus.Envelope{ID: "1", Source: "user/test", Type: bus.CommandType(kind, "apply"), Time: time.Now(), Subject: "elsewhere/other",
			Data: json.RawMessage(data)}
		body, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return &nats.Msg{Subject: bus.CommandSubject(kind, "apply"), Data: body}
	}
	envelope := func(kind, body string) *nats.Msg { // written by hand
		return &nats.Msg{Subject: bus.CommandSubject(kind, "apply"), Data: []byte(body)}
	}
	head := `{"specversion":"1.0","id":"1","source":"user/test","type":"dev.gantry.cmd.deployment.apply.v1",`
	for _, tc := range []struct {
		name      string
		m         *nats.Msg
		kind, key string
	}{
		{"as bus.Client writes it", structured("configmap", `{"namespace":"shop","name":"web","object":{"kind":"ConfigMap"}}`), "configmap", "shop/web"},
		{"namespace left out", structured("configmap", `{"name":"web"}`), "configmap", "default/web"},
		{"cluster-scoped", structured("namespace", `{"name":"shop"}`), "namespace", "/shop"},
		{"object first", structured("deployment", `{"object":{"metadata":{"name":"x","namespace":"y"}},"name":"web","namespace":"shop"}`), "deployment", "shop/web"},
		{"escaped", structured("deployment", `{"namespace":"sh\u006fp","name":"w\u0065b"}`), "deployment", "shop/web"},
		{"namespace escaped", structured("deployment", `{"namespace":"sh\u006fp","name":"web"}`), "deployment", "shop/web"},
		{"escaped key", structured("deployment", `{"n\u0061me":"web","namespace":"shop"}`), "deployment", "shop/web"},
		{"key in another case", structured("deployment", `{"Name":"web","namespace":"shop"}`), "deployment", "shop/web"},
		{"key in another case after both", structured("deployment", `{"namespace":"shop","name":"other","NAME":"web"}`), "deployment", "shop/web"},
		{"name given twice", structured("deployment", `{"namespace":"shop","name":"other","name":"web"}`), "deployment", "shop/web"},
		{"namespace given twice", structured("deployment", `{"namespace":"x","namespace":"shop","name":"web"}`), "deployment", "shop/web"},
		{"not an object", structured("deployment", `[1]`), "deployment", "default/"},
		{"data given twice", envelope("deployment", head+`"data":{"namespace":"x","name":"y"},"data":{"namespace":"shop","name":"web"}}`), "deployment", "shop/web"},
		{"data in another case", envelope("deployment", head+`"DATA":{"namespace":"shop","name":"web"}}`), "deployment", "shop/web"},
		{"binary mode", &nats.Msg{Subject: bus.CommandSubject("deployment", "apply"), Data: []byte(`{"namespace":"shop","name":"web"}`),
			Header: nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"user/test"}, "ce-type": {bus.CommandType("deployment", "apply")}}}, "deployment", "shop/web"},
		{"kind by its plural", &nats.Msg{Subject: "gantry.cmd.deployments.apply", Data: structured("deployment", `{"namespace":"shop","name":"web"}`).Data}, "deployment", "shop/web"},
	} {
		kind, ns, name := s.objectKey(tc.m)
		if got := string(ns) + "/" + string(name); kind != tc.kind || got != tc.key {
			t.Errorf("%s: routed as %s %q, want %s %q", tc.name, kind, got, tc.kind, tc.key)
		}
		// And the key is what decode reads.
		env, err := bus.DecodeCloudEvent(tc.m.Data, tc.m.Header)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if cmd, err := decodeCommand(env.Data, true); err == nil {
			k, _ := s.opt.Kinds.Lookup(tc.kind)
			if scope(k, &cmd) == nil && cmd.Namespace+"/"+cmd.Name != tc.key {
				t.Errorf("%s: decoded as %s/%s, the test wants %s", tc.name, cmd.Namespace, cmd.Name, tc.key)
			}
		}
	}
}
