package projections_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

func streamMsgs(t *testing.T, c *cluster, name string) uint64 {
	t.Helper()
	s, err := c.conn.JS.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestBadInputChangesNothing: each bad command is answered with a message
// naming the object, the field and the rule; the event stream does not
// change, and the refusal is recorded on GANTRY_REJECTED.
func TestBadInputChangesNothing(t *testing.T) {
	c := startCluster(t, 1)
	c.createNamespace(t, "default")
	c.mustDo(t, "deployment", "create", aggregates.Command{Namespace: "default", Name: "web", Object: []byte(webDeployment)})
	stale := "1"
	cases := []struct {
		name, kind, verb string
		cmd              aggregates.Command
		want             string
	}{
		{"unknown kind", "frobnicator", "create", aggregates.Command{Name: "x", Object: []byte(`{}`)}, `the server doesn't have a resource type "frobnicator"`},
		{"unknown field", "deployment", "apply", aggregates.Command{Namespace: "default", Name: "web", Object: []byte(strings.Replace(webDeployment, `"replicas":1`, `"replicas":1,"replica":2`, 1))},
			`at "/object/spec": additional properties 'replica' not allowed`},
		{"wrongly typed field", "deployment", "apply", aggregates.Command{Namespace: "default", Name: "web", Object: []byte(strings.Replace(webDeployment, `"replicas":1`, `"replicas":"one"`, 1))},
			`/object/spec/replicas`},
		{"invalid name", "configmap", "create", aggregates.Command{Namespace: "default", Name: "My_Config", Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"My_Config"}}`)},
			`ConfigMap "My_Config" is invalid: metadata.name: Invalid value: "My_Config": a lowercase RFC 1123 subdomain`},
		{"invalid label", "configmap", "create", aggregates.Command{Namespace: "default", Name: "c", Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"-bad":"x"}}}`)},
			`metadata.labels: Invalid value: "-bad": name part must consist of alphanumeric characters`},
		{"missing object", "deployment", "scale", aggregates.Command{Namespace: "default", Name: "nope", Replicas: new(int32)}, `deployments.apps "nope" not found`},
		{"missing namespace", "configmap", "create", aggregates.Command{Namespace: "ghost", Name: "c", Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`)},
			`namespaces "ghost" not found`},
		{"stale update", "deployment", "update", aggregates.Command{Namespace: "default", Name: "web", ResourceVersion: stale, Object: []byte(webDeployment)},
			`Operation cannot be fulfilled on deployments.apps "web": the object has been modified`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			events, rejected := streamMsgs(t, c, bus.EventsStream), streamMsgs(t, c, bus.RejectedStream)
			_, err := c.do(t, tc.kind, tc.verb, tc.cmd)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
			if got := streamMsgs(t, c, bus.EventsStream); got != events {
				t.Errorf("events stream changed: %d -> %d messages", events, got)
			}
			waitFor(t, func() bool { return streamMsgs(t, c, bus.RejectedStream) == rejected+1 }, "refusal recorded on GANTRY_REJECTED")
		})
	}
}

// TestCloudEventFailingSchemaIsRefused: a CloudEvent from another system
// whose data breaks the command's schema is refused with the schema's
// words, and nothing is appended.
func TestCloudEventFailingSchemaIsRefused(t *testing.T) {
	c := startCluster(t, 1)
	c.createNamespace(t, "default")
	events := streamMsgs(t, c, bus.EventsStream)
	for name, body := range map[string]string{
		"schema": `{"specversion":"1.0","id":"e1","source":"ci/pipeline","type":"dev.gantry.cmd.deployment.scale.v1","data":{"name":"web","replicas":"lots"}}`,
		"type":   `{"specversion":"1.0","id":"e2","source":"ci/pipeline","type":"dev.gantry.cmd.pod.scale.v1","data":{"name":"web","replicas":1}}`,
		"not ce": `{"name":"web","replicas":1}`,
	} {
		msg, err := c.conn.NC.Request(bus.CommandSubject("deployment", "scale"), []byte(body), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(string(msg.Data), `"reason":"BadRequest"`) {
			t.Errorf("%s: reply %s, want a BadRequest status", name, msg.Data)
		}
		if name == "schema" && !strings.Contains(string(msg.Data), `at \"/replicas\": got string, want integer`) {
			t.Errorf("schema refusal does not name the field and rule: %s", msg.Data)
		}
	}
	if got := streamMsgs(t, c, bus.EventsStream); got != events {
		t.Errorf("events stream changed: %d -> %d", events, got)
	}
	// A binary-mode CloudEvent from another SDK is accepted like a structured one.
	h := nats.Header{}
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "b1", "ce-source": "ci/pipeline", "ce-type": "dev.gantry.cmd.configmap.create.v1", "Content-Type": "application/json"} {
		h.Set(k, v)
	}
	msg, err := c.conn.NC.RequestMsg(&nats.Msg{Subject: bus.CommandSubject("configmap", "create"), Header: h,
		Data: []byte(`{"namespace":"default","name":"from-ci","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"from-ci"},"data":{"a":"b"}}}`)}, 5*time.Second)
	if err != nil || strings.Contains(string(msg.Data), `"status"`) {
		t.Fatalf("binary CloudEvent: %v %s", err, msg.Data)
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
