package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// startTestBus runs an embedded JetStream with the Gantry streams and
// buckets, and connects to it in-process.
func startTestBus(t testing.TB) *Conn {
	_, c := startTestServer(t)
	return c
}

// startTestServer is startTestBus, with the server for more connections.
func startTestServer(t testing.TB) (*server.Server, *Conn) {
	t.Helper()
	ns, err := StartServer(ServerOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ConnectInProcess(ns, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); ns.Shutdown(); ns.WaitForShutdown() })
	if err := c.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ns, c
}

func testEvent(i int) Envelope {
	return Envelope{ID: fmt.Sprintf("e%d", i), Source: "test", Type: EventType("configmap", "labeled"),
		Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
}

func consumerCount(t *testing.T, c *Conn) int {
	t.Helper()
	s, err := c.JS.Stream(context.Background(), EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// waitConsumers waits up to 10 s for the events stream to have want
// consumers: nats.go deletes a consumer an ordered consumer replaced (on a
// reset, which a loaded machine can cause) from a goroutine of its own,
// so a reader may return while that deletion is still on its way.
func waitConsumers(t *testing.T, c *Conn, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for consumerCount(t, c) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d consumers %s, want %d", consumerCount(t, c), when, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Load reads one subject's history after a sequence, in order, with the
// stream metadata set, and nothing from other subjects.
func TestLoadHistory(t *testing.T) {
	ctx := context.Background()
	c := startTestBus(t)
	st, err := NewStore(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	a, b := EventSubject("configmap", "default", "a"), EventSubject("configmap", "default", "b")
	var seqA []uint64
	lastA, lastB := uint64(0), uint64(0)
	for i := range 20 { // a and b interleaved: a, b, b, a, b, b, …
		var err error
		if i%3 == 0 {
			lastA, err = st.Append(ctx, a, lastA, testEvent(i))
			seqA = append(seqA, lastA)
		} else {
			lastB, err = st.Append(ctx, b, lastB, testEvent(i))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, after := range []uint64{0, seqA[0], seqA[2] - 1, seqA[2], seqA[len(seqA)-1], seqA[len(seqA)-1] + 5} {
		got, err := st.Load(ctx, a, after)
		if err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for _, s := range seqA {
			if s > after {
				want = append(want, s)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("Load(after %d) = %d events, want %d", after, len(got), len(want))
		}
		for i, e := range got {
			if e.Seq != want[i] || e.StreamSubject != a || e.Stored.IsZero() || e.ID != fmt.Sprintf("e%d", 3*(len(seqA)-len(want)+i)) {
				t.Fatalf("Load(after %d)[%d] = seq %d subject %s id %s stored %v, want seq %d", after, i, e.Seq, e.StreamSubject, e.ID, e.Stored, want[i])
			}
		}
	}
	if got, err := st.Load(ctx, EventSubject("configmap", "default", "none"), 0); err != nil || len(got) != 0 {
		t.Fatalf("Load of an empty subject = %v, %v", got, err)
	}
}

// Load is called on every cache miss of the command service: it must not
// leave consumers behind (nats.go keeps an ordered consumer on the server
// for 5 minutes; 100k objects once hit the consumer limit).
func TestLoadCreatesNoConsumers(t *testing.T) {
	ctx := context.Background()
	c := startTestBus(t)
	st, err := NewStore(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		subj := EventSubject("configmap", "default", fmt.Sprintf("cm%d", i%200))
		last, err := st.LastSeq(ctx, subj)
		if err != nil {
			last = 0
		}
		if _, err := st.Append(ctx, subj, last, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	events := 0
	for i := range n {
		got, err := st.Load(ctx, EventSubject("configmap", "default", fmt.Sprintf("cm%d", i%200)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n/200 {
			t.Fatalf("load %d: %d events, want %d", i, len(got), n/200)
		}
		events += len(got)
	}
	t.Logf("%d loads (%d events) in %s", n, events, time.Since(t0).Round(time.Millisecond))
	waitConsumers(t, c, 0, fmt.Sprintf("after %d loads", n))
}

// Replay, SeqAt and Follow delete their ordered consumers when done, and
// the ones they create expire quickly if a process dies.
func TestReadersCleanUpConsumers(t *testing.T) {
	ctx := context.Background()
	c := startTestBus(t)
	st, err := NewStore(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	subj := EventSubject("configmap", "default", "x")
	var last uint64
	for i := range 10 {
		if last, err = st.Append(ctx, subj, last, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	mid := time.Now()
	time.Sleep(5 * time.Millisecond)
	for i := 10; i < 20; i++ {
		if last, err = st.Append(ctx, subj, last, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 {
		n := 0
		if err := st.Replay(ctx, nil, 1, last, func(Envelope) error { n++; return nil }); err != nil || n != 20 {
			t.Fatalf("replay: %d events, %v", n, err)
		}
		if seq, err := st.SeqAt(ctx, mid); err != nil || seq != 10 {
			t.Fatalf("SeqAt = %d, %v; want 10", seq, err)
		}
	}
	fctx, cancel := context.WithCancel(ctx)
	seen := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() {
		done <- st.Follow(fctx, 15, func(e Envelope) error { seen <- e.Seq; return nil })
	}()
	for want := uint64(15); want <= 20; want++ {
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("follow: got %d, want %d", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("follow: nothing delivered")
		}
	}
	waitConsumers(t, c, 1, "while following")
	s, _ := c.JS.Stream(ctx, EventsStream)
	for info := range s.ListConsumers(ctx).Info() {
		if info.Config.InactiveThreshold != orderedInactive {
			t.Errorf("consumer %s: inactive threshold %s, want %s", info.Name, info.Config.InactiveThreshold, orderedInactive)
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("follow ended with %v", err)
	}
	waitConsumers(t, c, 0, "left after replays, seeks and a follow")
}

// TestFilteredReplayEndsWithoutAMatch: a replay whose filter matches
// nothing up to its end (or nothing at all) returns instead of waiting.
func TestFilteredReplayEndsWithoutAMatch(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	appendN(t, s, EventSubject("pod", "a", "p"), 3)
	appendN(t, s, EventSubject("pod", "b", "q"), 3)
	for _, c := range []struct {
		filter string
		want   int
	}{{EventFilter("pod", "a"), 3}, {EventFilter("pod", "zzz"), 0}, {EventFilter("deployment", ""), 0}} {
		n := 0
		if err := s.Replay(ctx, []string{c.filter}, 1, 1000, func(Envelope) error { n++; return nil }); err != nil {
			t.Fatalf("%s: %v", c.filter, err)
		}
		if n != c.want {
			t.Errorf("%s: %d events, want %d", c.filter, n, c.want)
		}
	}
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	st, err := NewStore(context.Background(), startTestBus(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func appendN(t *testing.T, s *Store, subject string, n int) {
	t.Helper()
	last := uint64(0)
	for i := range n {
		e := testEvent(i)
		e.ID = fmt.Sprintf("%s-%d", subject, i)
		seq, err := s.Append(context.Background(), subject, last, e)
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
}

// TestReplayStops: a replay ends with fn's error as soon as fn fails, and
// with the context's error when it is cancelled mid-way (fn blocking),
// even with more than a batch in flight, and leaves no consumer behind.
func TestReplayStops(t *testing.T) {
	c := startTestBus(t)
	s, err := NewStore(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, EventSubject("configmap", "default", "x"), 3*replayBatch)
	errStop := errors.New("stop here")
	n := 0
	err = s.Replay(context.Background(), nil, 1, 1<<60, func(Envelope) error {
		if n++; n == replayBatch+10 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || n != replayBatch+10 {
		t.Fatalf("replay ended after %d events with %v, want %v after %d", n, err, errStop, replayBatch+10)
	}
	ctx, cancel := context.WithCancel(context.Background())
	block := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.ReplayData(ctx, nil, 1, 1<<60, func(e Envelope) error {
			if e.Seq == 5 {
				<-block
			}
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	close(block)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled replay ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled replay did not end")
	}
	waitConsumers(t, c, 0, "left after the replays")
}

// Append stores the event with its id, refuses a stale expected sequence
// as a conflict, and recognises its own event sent again after a lost
// acknowledgement.
func TestAppendExpectsTheLastSequence(t *testing.T) {
	ctx := context.Background()
	c := startTestBus(t)
	st, err := NewStore(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	subject := EventSubject("configmap", "default", "a")
	first, err := st.Append(ctx, subject, 0, testEvent(1))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := st.Append(ctx, subject, 0, testEvent(1)); err != nil || again != first {
		t.Fatalf("the same event again: %d, %v; want %d (its first append)", again, err, first)
	}
	if _, err := st.Append(ctx, subject, 0, testEvent(2)); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale expected sequence: %v, want ErrConflict", err)
	}
	second, err := st.Append(ctx, subject, first, testEvent(2))
	if err != nil || second != first+1 {
		t.Fatalf("append at %d: %d, %v", first, second, err)
	}
	s, err := c.JS.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	if got := last.Header.Get("Nats-Msg-Id"); got != "e2" || last.Sequence != second {
		t.Errorf("last message: seq %d, Nats-Msg-Id %q; want %d, e2", last.Sequence, got, second)
	}
}

func TestParsePubAck(t *testing.T) {
	for _, c := range []struct {
		ack     string
		seq     uint64
		errCode jetstream.ErrorCode // 0: no refusal
		invalid bool
	}{
		{ack: `{"stream":"GANTRY_EVENTS","seq":42}`, seq: 42},
		{ack: `{"stream":"GANTRY_EVENTS","domain":"hub","seq":7,"duplicate":true}`, seq: 7},
		{ack: `{"stream":"GANTRY_EVENTS", "seq" : 8 }`, seq: 8},
		{ack: `{"Stream":"GANTRY_EVENTS","seq":9}`, seq: 9}, // encoding/json's reading
		{ack: `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"GANTRY_EVENTS","seq":0}`, errCode: 10071},
		{ack: `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`, errCode: 10077},
		{ack: `{"seq":3}`, invalid: true},
		{ack: `not json`, invalid: true},
	} {
		seq, err := parsePubAck([]byte(c.ack))
		var apiErr *jetstream.APIError
		switch {
		case c.invalid:
			if !errors.Is(err, jetstream.ErrInvalidJSAck) {
				t.Errorf("%s: %d, %v; want ErrInvalidJSAck", c.ack, seq, err)
			}
		case c.errCode != 0:
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != c.errCode {
				t.Errorf("%s: %d, %v; want API error %d", c.ack, seq, err, c.errCode)
			}
		case err != nil || seq != c.seq:
			t.Errorf("%s: %d, %v; want %d", c.ack, seq, err, c.seq)
		}
	}
}
