package bus

import (
	"context"
	"errors"
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

// TestRequestTimesOutAsAContext: whatever context a request goes with, one
// that nothing answers in time ends with context.DeadlineExceeded, and
// one whose context is cancelled ends with context.Canceled.
func TestRequestTimesOutAsAContext(t *testing.T) {
	c := startTestBus(t)
	sub, err := c.NC.Subscribe(CommandSubject("configmap", "label"), func(*nats.Msg) {}) // never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	cl := NewClient(c, Identity{Source: "user/test"})
	cl.timeout = 100 * time.Millisecond
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, ctx := range map[string]context.Context{"background": context.Background(), "cancellable": cancellable} {
		start := time.Now()
		_, err := cl.Do(ctx, "configmap", "label", keyed{"shop", "web"}, CommandMeta{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want context.DeadlineExceeded", name, err)
		}
		if took := time.Since(start); took < cl.timeout {
			t.Errorf("%s: gave up after %s, before the client's timeout", name, took)
		}
	}
	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := cl.Do(cancelled, "configmap", "label", keyed{"shop", "web"}, CommandMeta{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}
