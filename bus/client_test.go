package bus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

type keyed struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (k keyed) ObjectKey() string { return k.Namespace + "/" + k.Name }

// TestDoSendsHeadersOnlyToAsk: a command goes as a bare structured
// CloudEvent whose subject names its object (what the command service
// routes on); a header goes only with a request for the object or a dry
// run.
func TestDoSendsHeadersOnlyToAsk(t *testing.T) {
	c := startTestBus(t)
	got := make(chan *nats.Msg, 3)
	sub, err := c.NC.Subscribe(CommandSubject("configmap", "label"), func(m *nats.Msg) {
		got <- m
		_ = m.Respond([]byte(`{"seq":1,"event":"labeled"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	cl := NewClient(c, Identity{Source: "user/test"})
	for _, tc := range []struct {
		meta   CommandMeta
		header string
	}{{CommandMeta{}, ""}, {CommandMeta{WantObject: true}, WantObjectHeader}, {CommandMeta{DryRun: true}, DryRunHeader}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := cl.Do(ctx, "configmap", "label", keyed{"shop", "web.v1"}, tc.meta)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		m := <-got
		switch {
		case tc.header == "" && m.Header != nil:
			t.Errorf("plain command sent headers %v", m.Header)
		case tc.header != "" && (len(m.Header) != 1 || m.Header.Get(tc.header) != "true"):
			t.Errorf("%+v: headers %v, want only %s", tc.meta, m.Header, tc.header)
		}
		if s := CloudEventSubject(m.Data); s != "shop/web.v1" {
			t.Errorf("%+v: CloudEvent subject %q, want shop/web.v1", tc.meta, s)
		}
		if e, err := DecodeCloudEvent(m.Data, m.Header); err != nil || e.Subject != "shop/web.v1" {
			t.Errorf("%+v: decodes to %+v, %v", tc.meta, e, err)
		}
	}
}

func TestCloudEventSubject(t *testing.T) {
	for _, tc := range []struct{ ce, want string }{
		{`{"specversion":"1.0","id":"1","source":"s","type":"t","subject":"ns/a","data":{"name":"b"}}`, "ns/a"},
		{`{"subject":"ns/a","data":{"subject":"x"}}`, "ns/a"},
		{`{"data":{"subject":"x"},"id":"1"}`, ""},     // only the top level's
		{`{"id":"1","subject":"n\u0073/a"}`, ""},      // escaped: not plain
		{`{"id":"1","subject":1}`, ""},                // not a string
		{`{"id":"1","subj\u0065ct":"ns/a"}`, ""},      // escaped key
		{`{"id":"1","subject":"ns/a"` + "\n", "ns/a"}, // broken after it: read up to it only
		{`not json`, ""},
	} {
		if got := CloudEventSubject([]byte(tc.ce)); got != tc.want {
			t.Errorf("CloudEventSubject(%s) = %q, want %q", tc.ce, got, tc.want)
		}
	}
}
