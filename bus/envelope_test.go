package bus

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"pgregory.net/rapid"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	e := Envelope{ID: "1", Source: "user/alice", Type: EventType("deployment", "scaled"), Subject: "deployment/default/web",
		Time: time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC), Actor: "alice", CausationID: "c1", CorrelationID: "r1", Reason: "spike",
		Data: json.RawMessage(`{"replicas":5}`)}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"data":{"replicas":5}`) || !strings.Contains(string(b), `"specversion":"1.0"`) {
		t.Fatalf("not structured JSON with JSON data: %s", b)
	}
	got, err := UnmarshalEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := DecodeCloudEvent(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []Envelope{got, sdk} {
		if g.ID != e.ID || g.Actor != "alice" || g.Reason != "spike" || g.CausationID != "c1" || string(g.Data) != `{"replicas":5}` || !g.Time.Equal(e.Time) {
			t.Errorf("round trip = %+v", g)
		}
	}
}

func TestDecodeBinaryMode(t *testing.T) {
	h := nats.Header{}
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "x", "ce-source": "ci/pipeline", "ce-type": CommandType("deployment", "scale"), "ce-actor": "bot"} {
		h.Set(k, v)
	}
	e, err := DecodeCloudEvent([]byte(`{"name":"web","replicas":2}`), h)
	if err != nil {
		t.Fatal(err)
	}
	if e.Source != "ci/pipeline" || e.Actor != "bot" || string(e.Data) != `{"name":"web","replicas":2}` {
		t.Fatalf("binary decode = %+v", e)
	}
}

func TestDecodeCloudEventRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      `{`,
		"no id":         `{"specversion":"1.0","source":"x","type":"t"}`,
		"bad version":   `{"specversion":"0.1","id":"1","source":"x","type":"t"}`,
		"non-json data": `{"specversion":"1.0","id":"1","source":"x","type":"t","datacontenttype":"text/plain","data":"hi"}`,
	} {
		if _, err := DecodeCloudEvent([]byte(body), nil); err == nil {
			t.Errorf("%s: accepted %s", name, body)
		}
	}
}

// FuzzDecodeCloudEvent: any input is decoded or refused with
// ErrInvalidEvent-style errors, never a panic.
func FuzzDecodeCloudEvent(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"x","type":"dev.gantry.cmd.pod.create.v1","data":{"name":"p"}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"x","type":"t","data_base64":"e30="}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"specversion":"1.0","time":"yesterday"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeCloudEvent(b, nil)
		if err == nil && (e.ID == "" || e.Source == "" || e.Type == "") {
			t.Fatalf("accepted an event without id, source or type: %q", b)
		}
		_, _ = UnmarshalEnvelope(b)
	})
}

// TestSDKReadsWhatWeWrite: every envelope Marshal writes is a valid
// CloudEvent to the CloudEvents SDK, attributes and data intact.
func TestSDKReadsWhatWeWrite(t *testing.T) {
	e := Envelope{ID: "7", Source: "gantry/scheduler", Type: EventType("pod", "bound"), Subject: "pod/default/p",
		Time: time.Date(2026, 11, 22, 3, 0, 0, 123, time.UTC), Actor: "gantry/scheduler", CausationID: "c", CorrelationID: "r", Reason: "fits",
		Data: json.RawMessage(`{"nodeName":"n1"}`)}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ce := cloudevents.New()
	if err := json.Unmarshal(b, &ce); err != nil {
		t.Fatal(err)
	}
	if err := ce.Validate(); err != nil {
		t.Fatalf("SDK says invalid: %v\n%s", err, b)
	}
	ext := ce.Extensions()
	if ce.ID() != "7" || ce.Source() != "gantry/scheduler" || ce.Subject() != "pod/default/p" || !ce.Time().Equal(e.Time) ||
		ext["actor"] != "gantry/scheduler" || ext["reason"] != "fits" || string(ce.Data()) != `{"nodeName":"n1"}` || ce.DataContentType() != "application/json" {
		t.Fatalf("SDK read %s", ce.String())
	}
}

// Every source plainURIReference takes, url.Parse takes too.
func TestPlainURIReferenceParses(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringOf(rapid.SampledFrom([]rune("aZ09-._~/:%?#@[] "))).Draw(t, "source")
		if _, err := url.Parse(s); plainURIReference(s) && err != nil {
			t.Fatalf("%q: taken, but url.Parse says %v", s, err)
		}
	})
	for _, s := range []string{"user/alice", "gantry/scheduler", "agent/node-1.example_x~y"} {
		if !plainURIReference(s) {
			t.Errorf("%q declined", s)
		}
	}
}

func TestIsCommandType(t *testing.T) {
	for _, c := range []struct{ kind, verb string }{{"deployment", "scale"}, {"pod", "bind"}, {"a", "b"}} {
		for _, typ := range []string{CommandType(c.kind, c.verb), CommandType(c.kind, c.verb+"x"), CommandType(c.kind+"x", c.verb), EventType(c.kind, c.verb),
			"dev.gantry.cmd." + c.kind + "." + c.verb + ".v2", "dev.gantry.cmd." + c.kind + c.verb + ".v1", "dev.gantry.cmd." + c.kind + "." + c.verb + ".v1x"} {
			if got, want := IsCommandType(typ, c.kind, c.verb), typ == CommandType(c.kind, c.verb); got != want {
				t.Errorf("IsCommandType(%q, %q, %q) = %v", typ, c.kind, c.verb, got)
			}
		}
	}
}
