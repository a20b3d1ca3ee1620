package bus

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// nextUpdate waits for the tail's next update (nil: the current values
// are in).
func nextUpdate(t *testing.T, tail *KeyTail) *KeyUpdate {
	t.Helper()
	select {
	case u, ok := <-tail.Updates():
		if !ok {
			t.Fatal("the tail's updates closed")
		}
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("no update within 10s")
	}
	return nil
}

// expectUpdates checks the tail's next updates, described.
func expectUpdates(t *testing.T, tail *KeyTail, want ...string) {
	t.Helper()
	for _, w := range want {
		if got := describe(nextUpdate(t, tail)); got != w {
			t.Fatalf("got %s, want %s", got, w)
		}
	}
}

func describe(u *KeyUpdate) string {
	switch {
	case u == nil:
		return "current"
	case u.Deleted:
		return u.Key + " deleted"
	}
	return u.Key + "=" + string(u.Value)
}

// The tail sends the filter's current values, then each change to them,
// and nothing of other keys.
func TestTailKeysFollowsWrites(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := startTestBus(t)
	kv := testBucket(t, c, "t")
	for _, kvs := range [][2]string{{"n1.a", "v1"}, {"n2.a", "x"}, {"n1.b", "gone"}} {
		if _, err := kv.Put(ctx, kvs[0], []byte(kvs[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.Delete(ctx, "n1.b"); err != nil {
		t.Fatal(err)
	}
	tail, err := TailKeys(ctx, c, kv, "n1.>")
	if err != nil {
		t.Fatal(err)
	}
	expectUpdates(t, tail, "n1.a=v1", "current")
	for _, step := range []func() error{
		func() error { _, err := kv.Put(ctx, "n1.b", []byte("v2")); return err },
		func() error { _, err := kv.Put(ctx, "n2.a", []byte("y")); return err },
		func() error { return kv.Delete(ctx, "n1.a") },
		func() error { return kv.Delete(ctx, "n1.zz") }, // never there
		func() error { _, err := kv.Put(ctx, "n1.a", []byte("v3")); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.Purge(ctx, "n1.b"); err != nil {
		t.Fatal(err)
	}
	expectUpdates(t, tail, "n1.b=v2", "n1.a deleted", "n1.a=v3", "n1.b deleted")
}

// A key's updates never go back in time, though it is written while the
// tail reads the current values.
func TestTailKeysNeverGoesBack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := startTestBus(t)
	kv := testBucket(t, c, "t")
	const writes = 2000
	for round := range 5 {
		key := fmt.Sprintf("n1.k%d", round)
		done, midway := make(chan error, 1), make(chan struct{})
		go func() {
			for i := 1; i <= writes; i++ {
				if i == 1+round*writes/5 { // the tail starts at different points of the writes
					close(midway)
				}
				if _, err := kv.Put(ctx, key, fmt.Appendf(nil, "%05d", i)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		<-midway
		tctx, stop := context.WithCancel(ctx)
		tail, err := TailKeys(tctx, c, kv, key)
		if err != nil {
			t.Fatal(err)
		}
		last, seen := "", 0
		for last != fmt.Sprintf("%05d", writes) {
			u := nextUpdate(t, tail)
			if u == nil {
				continue
			}
			if u.Deleted || string(u.Value) <= last {
				t.Fatalf("round %d: %s after %s", round, describe(u), last)
			}
			last = string(u.Value)
			seen++
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d updates, the last %s", round, seen, last)
	}
}

// What is written while the tail's connection is down reaches it once it
// is back: it reads the values again.
func TestTailKeysReadsAgainAfterReconnect(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	ns, err := StartServer(ServerOptions{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	port := ns.Addr().(*net.TCPAddr).Port
	w, err := ConnectInProcess(ns, "writer")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	kv := testBucket(t, w, "t")
	if _, err := kv.Put(ctx, "n1.a", []byte("before")); err != nil {
		t.Fatal(err)
	}
	// The tail's connection comes back two seconds after the server does, so
	// the write below happens while it is away.
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(2*time.Second), nats.ReconnectJitter(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := wrap(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	tkv, err := tc.JS.KeyValue(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	tail, err := tailKeys(ctx, tc, tkv, "n1.>", time.Hour, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	expectUpdates(t, tail, "n1.a=before", "current")
	w.Close()
	ns.Shutdown()
	ns.WaitForShutdown()
	ns, err = StartServer(ServerOptions{Port: port, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	w, err = ConnectInProcess(ns, "writer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	kv = testBucket(t, w, "t")
	if _, err := kv.Put(ctx, "n1.a", []byte("while away")); err != nil {
		t.Fatal(err)
	}
	if tc.NC.IsConnected() {
		t.Fatal("the tail's connection was back before the write; the test proves nothing")
	}
	expectUpdates(t, tail, "n1.a=while away")
}

// What the client drops when the tail falls behind reaches it too: it
// reads the values again.
func TestTailKeysReadsAgainAfterDrops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := startTestBus(t)
	kv := testBucket(t, c, "t")
	tail, err := tailKeys(ctx, c, kv, "n1.>", time.Hour, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if u := nextUpdate(t, tail); u != nil {
		t.Fatalf("an empty bucket sent %s", describe(u))
	}
	// The tail stops taking messages and its client may hold only five.
	if err := tail.sub.SetPendingLimits(5, -1); err != nil {
		t.Fatal(err)
	}
	tail.mu.Lock()
	const keys = 50
	for i := range keys {
		if _, err := kv.Put(ctx, fmt.Sprintf("n1.k%02d", i), []byte("v")); err != nil {
			tail.mu.Unlock()
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { return tail.droppedCount() > 0 })
	tail.mu.Unlock()
	seen := map[string]bool{}
	for len(seen) < keys {
		u := nextUpdate(t, tail)
		if u == nil || u.Deleted {
			t.Fatalf("unexpected %s", describe(u))
		}
		seen[u.Key] = true
	}
}

// waitUntil waits up to 10 s for cond.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
	}
}
