package service_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
)

// TestReplyObjectOnlyWhenAsked: bus.Client asks for answers without the
// object unless the sender wants it; a dry run and a command sent without
// the header (nats req) get it, stamped with its resourceVersion, and a
// Secret's data never leaves either way.
func TestReplyObjectOnlyWhenAsked(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{})
	ctx := context.Background()
	do := func(verb string, c aggregates.Command, meta bus.CommandMeta) bus.Reply {
		t.Helper()
		r, err := p.client.Do(ctx, "deployment", verb, c, meta)
		if err != nil {
			t.Fatalf("%s: %v", verb, err)
		}
		return r
	}
	rv := func(obj json.RawMessage) string {
		var o struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(obj, &o); err != nil {
			t.Fatalf("reply object %s: %v", obj, err)
		}
		return o.Metadata.ResourceVersion
	}
	manifest := func(name string) []byte {
		return []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"busybox:1"}]}}}}`)
	}
	create := aggregates.Command{Namespace: "default", Name: "web", Object: manifest("web")}
	r := do("create", create, bus.CommandMeta{})
	if r.Seq == 0 || r.Event != aggregates.Created || len(r.Object) != 0 {
		t.Errorf("create, object not asked for: %+v (object %s)", r, r.Object)
	}
	five := int32(5)
	r = do("scale", aggregates.Command{Namespace: "default", Name: "web", Replicas: &five}, bus.CommandMeta{WantObject: true})
	if got := rv(r.Object); got != strconv.FormatUint(r.Seq, 10) {
		t.Errorf("scale, object asked for: resourceVersion %q, want %d", got, r.Seq)
	}
	r = do("create", aggregates.Command{Namespace: "default", Name: "new", Object: manifest("new")}, bus.CommandMeta{DryRun: true})
	if len(r.Object) == 0 || rv(r.Object) != "" {
		t.Errorf("dry-run create: object %s, want one without a version yet", r.Object)
	}

	// A command sent as nats req would send it: no header but the content type.
	env := bus.Envelope{ID: "raw-1", Source: "user/nats-cli", Type: bus.CommandType("deployment", "scale"), Time: time.Now(),
		Data: json.RawMessage(`{"namespace":"default","name":"web","replicas":2}`)}
	body, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.conn.NC.RequestMsg(&nats.Msg{Subject: bus.CommandSubject("deployment", "scale"), Data: body,
		Header: nats.Header{"Content-Type": {bus.ContentType}}}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var raw bus.Reply
	if err := json.Unmarshal(m.Data, &raw); err != nil || raw.Event != aggregates.Scaled || rv(raw.Object) != strconv.FormatUint(raw.Seq, 10) {
		t.Errorf("command without the header: %s (%v), want the scaled object at its version", m.Data, err)
	}

	secret := []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"password":"hunter2-plain"}}`)
	for _, meta := range []bus.CommandMeta{{WantObject: true}, {DryRun: true}} {
		r, err := p.client.Do(ctx, "secret", "apply", aggregates.Command{Namespace: "default", Name: "s", Object: secret}, meta)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Object) == 0 || strings.Contains(string(r.Object), "hunter2") || strings.Contains(string(r.Object), "aHVudGVyMi1wbGFpbg") {
			t.Errorf("secret reply (%+v): %s", meta, r.Object)
		}
	}
}
