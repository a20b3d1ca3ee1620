package agent_test

import (
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/aggregates"
)

// TestExecTTY: an exec with a terminal (gantry exec -t, and -i -t) goes
// through the agent's NATS protocol the way the CLI drives it
// (agent.Exec): the process runs on a pseudo-terminal (tty names a
// /dev/pts device), output comes back with the
// terminal's CRLF line endings, typed input is echoed and reaches the
// process, and the exit code is carried back.
func TestExecTTY(t *testing.T) {
	slow(t)
	c := startCluster(t)
	n := newNode(t, c)
	c.apply(t, "pod", podManifest("term", `
containers:
- {name: c, image: `+image+`, command: ["sleep", "3600"]}
`))
	c.waitPod(t, "term", 60*time.Second, "running", running)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := func(cmd string, stdin bool) agent.ExecRequest {
		return agent.ExecRequest{Namespace: "default", Pod: "term", Container: "c", TTY: true, Stdin: stdin,
			Command: []string{"sh", "-c", cmd}}
	}

	t.Run("tty", func(t *testing.T) {
		var out, errOut syncBuffer
		code, err := agent.Exec(ctx, c.conn.NC, testNode, req(`tty; echo done; exit 3`, false), nil, &out, &errOut)
		if err != nil || code != 3 {
			t.Fatalf("exec = %d, %v; output %q %q", code, err, out.String(), errOut.String())
		}
		// Every line ends in CRLF (onlcr) and nothing is left on stderr: a
		// terminal has a single output stream.
		want := regexp.MustCompile(`^/dev/pts/[0-9]+\r\ndone\r\n$`)
		if !want.MatchString(out.String()) || errOut.Len() != 0 {
			t.Fatalf("terminal output %q (stderr %q), want it to match %s", out.String(), errOut.String(), want)
		}
	})

	t.Run("without tty", func(t *testing.T) {
		// The same command without -t: no terminal, plain LF.
		var out, errOut syncBuffer
		r := req(`tty; echo done; exit 3`, false)
		r.TTY = false
		code, err := agent.Exec(ctx, c.conn.NC, testNode, r, nil, &out, &errOut)
		if err != nil || code != 3 || out.String() != "not a tty\ndone\n" {
			t.Fatalf("exec = %d, %v; output %q %q", code, err, out.String(), errOut.String())
		}
	})

	t.Run("stdin", func(t *testing.T) {
		// A terminal's input stays open while the command runs: a pipe
		// written line by line stands for the user's keyboard, closed only
		// once the command has exited.
		in, keys := io.Pipe()
		defer keys.Close()
		var out, errOut syncBuffer
		type result struct {
			code int
			err  error
		}
		done := make(chan result, 1)
		go func() {
			code, err := agent.Exec(ctx, c.conn.NC, testNode,
				req(`echo ready; read line; echo "got:$line"; exit 4`, true), in, &out, &errOut)
			done <- result{code, err}
		}()
		// Type only once the shell asks, as a user would (input sent before
		// the terminal exists would be lost, as on any terminal).
		waitOutput(t, &out, "ready\r\n", done)
		if _, err := keys.Write([]byte("hello\r")); err != nil {
			t.Fatal(err)
		}
		var res result
		select {
		case res = <-done:
		case <-ctx.Done():
			t.Fatalf("exec did not end; output so far %q", out.String())
		}
		// The terminal echoes the typed line and turns the CR the Enter
		// key sends into the NL read expects (icrnl).
		if res.err != nil || res.code != 4 || out.String() != "ready\r\nhello\r\ngot:hello\r\n" {
			t.Fatalf("exec = %d, %v; output %q %q", res.code, res.err, out.String(), errOut.String())
		}
	})

	c.do(t, "pod", "delete", aggregates.Command{Name: "term", GracePeriodSeconds: ptr(int64(1))})
	c.waitPod(t, "term", 30*time.Second, "gone", gone)
	n.assertNoLeaks(t)
}

// syncBuffer is a bytes buffer one goroutine writes while another reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int { return len(s.String()) }

// waitOutput waits until out contains want, failing if the exec ends
// first or the deadline passes.
func waitOutput[T any](t *testing.T, out *syncBuffer, want string, done <-chan T) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		select {
		case r := <-done:
			t.Fatalf("exec ended (%+v) before printing %q; output %q", r, want, out.String())
		case <-deadline:
			t.Fatalf("no %q within 20s; output %q", want, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
