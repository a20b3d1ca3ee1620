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
// CloudEvent whose subject names its object; a header goes only with a
// request for the object or a dry run.
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
		if e, err := DecodeCloudEvent(m.Data, m.Header); err != nil || e.Subject != "shop/web.v1" {
			t.Errorf("%+v: decodes to %+v, %v", tc.meta, e, err)
		}
	}
}
