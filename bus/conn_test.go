package bus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The events stream remembers message ids for duplicateWindow only; an
// append retried after a lost acknowledgement is recognised by the id
// stored in the subject's last message, so it does not depend on the
// window: not even once the window has passed.
func TestRetriedAppendOutlivesTheDuplicateWindow(t *testing.T) {
	ctx := context.Background()
	c := startTestBus(t)
	stream, err := c.JS.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := stream.CachedInfo().Config.Duplicates; got != duplicateWindow {
		t.Fatalf("duplicate window %s, want %s", got, duplicateWindow)
	}
	cfg := stream.CachedInfo().Config
	cfg.Duplicates = 100 * time.Millisecond // the shortest the server takes
	if _, err := c.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	subject := EventSubject("configmap", "default", "a")
	first, err := s.Append(ctx, subject, 0, testEvent(1))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the window: the server forgot the id
	again, err := s.Append(ctx, subject, 0, testEvent(1))
	if err != nil || again != first {
		t.Fatalf("retried append: seq %d, %v; want %d (the first append's)", again, err, first)
	}
	if _, err := s.Append(ctx, subject, 0, testEvent(2)); !errors.Is(err, ErrConflict) {
		t.Fatalf("another event at the same expected sequence: %v, want ErrConflict", err)
	}
}

// ConnectLocal reaches an embedded server over loopback TCP, also when it
// listens on every address (gantry up --listen 0.0.0.0:PORT).
func TestConnectLocal(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "0.0.0.0"} {
		ns, err := StartServer(ServerOptions{Host: host, Port: -1, StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		c, err := ConnectLocal(ns, "test")
		if err != nil {
			ns.Shutdown()
			t.Fatalf("%s: %v", host, err)
		}
		addr := c.NC.ConnectedAddr()
		if err := c.NC.Flush(); err != nil || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("listening on %s: connected to %q (flush: %v), want loopback TCP", host, addr, err)
		}
		c.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}
