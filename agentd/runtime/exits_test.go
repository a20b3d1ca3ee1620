package runtime

import (
	"context"
	"testing"
	"time"
)

// TestWaitContainerWakesOnExitOnly: waiters of a running container (two
// at once, sharing the node's one /tasks/exit subscription) are not woken
// by an exec'd process exiting, and are woken with the exit status when
// the container's own process exits.
func TestWaitContainerWakesOnExitOnly(t *testing.T) {
	e := slow(t)
	p := e.runPod(t, "exits")
	e.start(t, p.UID, ContainerSpec{Container: e.container("main", "sh", "-c", "echo ready; while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 7")})
	e.waitLog(t, p.UID, "main", "ready")

	type result struct {
		st  ContainerStatus
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			st, err := e.rt.WaitContainer(testCtx(t), p.UID, "main")
			results <- result{st, err}
		}()
	}
	// an exec'd process exits: the waiters keep waiting
	code, err := e.rt.Exec(testCtx(t), p.UID, "main", ExecOptions{Cmd: []string{"true"}})
	if err != nil || code != 0 {
		t.Fatalf("exec true = %d, %v", code, err)
	}
	select {
	case r := <-results:
		t.Fatalf("a waiter returned after an exec'd process exited, container still running: %+v, %v", r.st, r.err)
	case <-time.After(1500 * time.Millisecond): // past the fresh subscription's one re-check
	}
	// the container's own process exits: both waiters return its status
	if code, err := e.rt.Exec(testCtx(t), p.UID, "main", ExecOptions{Cmd: []string{"touch", "/tmp/go"}}); err != nil || code != 0 {
		t.Fatalf("exec touch = %d, %v", code, err)
	}
	for range 2 {
		select {
		case r := <-results:
			if r.err != nil || r.st.State != StateExited || r.st.ExitCode != 7 {
				t.Fatalf("waiter returned %+v, %v; want Exited with code 7", r.st, r.err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("waiter not woken within 20s of the container's exit")
		}
	}
	// waiting on an exited container returns at once
	ctx, cancel := context.WithTimeout(testCtx(t), 5*time.Second)
	defer cancel()
	if st, err := e.rt.WaitContainer(ctx, p.UID, "main"); err != nil || st.ExitCode != 7 {
		t.Fatalf("wait on exited container = %+v, %v", st, err)
	}
	e.rt.exits.mu.Lock()
	left := len(e.rt.exits.waiters)
	e.rt.exits.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d containers still have registered waiters", left)
	}
}
