package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var gantryBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gantry-e2e-bin")
	if err != nil {
		panic(err)
	}
	gantryBin = filepath.Join(dir, "gantry")
	build := exec.Command("go", "build", "-o", gantryBin, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gantry:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one `gantry up` process with its own home and data dir.
type node struct {
	t    *testing.T
	home string
	cmd  *exec.Cmd
	log  *lockedBuffer
}

// startUp starts `gantry up` with home for its config and data, and extra
// flags, and waits until it answers.
func startUp(t *testing.T, home string, extra ...string) *node {
	t.Helper()
	n := &node{t: t, home: home, log: &lockedBuffer{}}
	// No local agent (no containerd or images needed here), no dashboard,
	// DNS and ingress on ports the kernel picks; every other worker runs.
	args := []string{"up", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--dashboard", "", "--agent=false",
		"--dns", "127.0.0.1:0", "--ingress-http", "127.0.0.1:0", "--ingress-https", "127.0.0.1:0", "--data", filepath.Join(home, "data")}
	n.cmd = exec.Command(gantryBin, append(args, extra...)...)
	n.cmd.Env = append(os.Environ(), "GANTRY_HOME="+home)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	_ = os.Remove(filepath.Join(home, "config"))
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Kill() // by PID
			_ = n.cmd.Wait()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := n.run("get", "ns"); err == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("gantry up did not become ready:\n%s", n.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lockedBuffer is a process's output, read while it still writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// run runs a client verb against this node and returns its stdout.
func (n *node) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, gantryBin, args...)
	c.Env = append(os.Environ(), "GANTRY_HOME="+n.home)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	if err != nil {
		return out.String(), fmt.Errorf("gantry %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func (n *node) must(args ...string) string {
	n.t.Helper()
	out, err := n.run(args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// stop sends SIGINT, as Ctrl-C does, and waits for a clean exit.
func (n *node) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			n.t.Fatalf("gantry up exited with %v:\n%s", err, n.log)
		}
	case <-time.After(30 * time.Second):
		n.t.Fatalf("gantry up did not stop on SIGINT:\n%s", n.log)
	}
	if !strings.Contains(n.log.String(), "gantry stopped") {
		n.t.Fatalf("no clean stop:\n%s", n.log)
	}
}

const everything = "ns,cm,secret,deploy,rs,svc,endpointslices,pod,ingressclass,ingress"

// head is the sequence of the last event stored.
func (n *node) head() string {
	n.t.Helper()
	var e struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal([]byte(n.must("events", "--last", "1", "-o", "json")), &e); err != nil || e.Seq == 0 {
		n.t.Fatalf("head: %v", err)
	}
	return fmt.Sprint(e.Seq)
}

// quiesce waits until the controllers stop appending (the head sequence
// holds still for a second), bounded.
func (n *node) quiesce() {
	n.t.Helper()
	last, still := "", 0
	for i := 0; i < 200 && still < 10; i++ {
		out := n.must("events", "--last", "1", "-o", "json")
		if out == last {
			still++
		} else {
			still, last = 0, out
		}
		time.Sleep(100 * time.Millisecond)
	}
	if still < 10 {
		n.t.Fatalf("the cluster never went quiet; last event: %s", last)
	}
}

// TestRestartRebuildsFromTheStream: state read after a restart on the same
// data dir is identical, rebuilt from the event stream.
func TestRestartRebuildsFromTheStream(t *testing.T) {
	home := t.TempDir()
	n := startUp(t, home)
	out := n.must("apply", "-f", "testdata/app.yaml")
	for _, want := range []string{"namespace/shop created", "deployment.apps/web created", "service/web created", "secret/db created",
		"ingressclass.networking.k8s.io/gantry created", "ingress.networking.k8s.io/web created"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	if out := n.must("apply", "-f", "testdata/app.yaml"); strings.Count(out, "unchanged") != strings.Count(out, "\n") {
		t.Errorf("second apply should change nothing:\n%s", out)
	}
	n.must("scale", "deployment/web", "-n", "shop", "--replicas", "5", "--reason", "load test")
	n.must("label", "deployment", "web", "-n", "shop", "tier=frontend")
	n.quiesce()
	head := n.head()
	live := n.must("get", everything, "-A", "-o", "json")
	before := n.must("get", everything, "-A", "-o", "json", "--at", head)
	if n.head() == head && live != before { // the live view is the fold of the stream
		t.Fatalf("live state differs from the state rebuilt at %s:\nlive:\n%s\nrebuilt:\n%s", head, live, before)
	}
	table := n.must("get", "deploy", "-n", "shop")
	if !strings.Contains(table, "NAME") || !strings.Contains(table, "web") {
		t.Errorf("table: %s", table)
	}
	stopped := n.head() // the last event before the stop
	n.stop()

	n = startUp(t, home)
	// Exactly the state as of the last event before the stop, rebuilt from
	// the stream by the restarted server.
	after := n.must("get", everything, "-A", "-o", "json", "--at", head)
	if before != after {
		t.Fatalf("state as of %s differs after restart:\nbefore:\n%s\nafter:\n%s", head, before, after)
	}
	// Nothing changed, so the restarted controllers append nothing (each
	// event would stay in the history forever) and the live state is the
	// state before the stop.
	n.quiesce()
	if now := n.head(); now != stopped {
		t.Fatalf("the restart appended events after %s with nothing changed (head %s):\n%s", stopped, now, n.must("events", "--last", "20"))
	}
	live = n.must("get", everything, "-A", "-o", "json")
	if atStop := n.must("get", everything, "-A", "-o", "json", "--at", stopped); live != atStop {
		t.Fatalf("live state after restart differs from the state at the stop (%s):\nat the stop:\n%s\nlive:\n%s", stopped, atStop, live)
	}
	if !strings.Contains(live, `"replicas": 5`) || !strings.Contains(live, `"tier": "frontend"`) {
		t.Fatalf("restart lost the scale or the label:\n%s", live)
	}
	hist := n.must("history", "deployment/web", "-n", "shop")
	for _, want := range []string{"deployment.created", "deployment.scaled", "deployment.labeled", "load test"} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	n.stop()
}

// TestMalformedYAMLNamesFileAndLine: a broken document is refused before
// anything is sent, with the file and the line, and nothing changes.
func TestMalformedYAMLNamesFileAndLine(t *testing.T) {
	n := startUp(t, t.TempDir())
	before := n.must("events", "--last", "1000", "-o", "json")
	_, err := n.run("apply", "-f", "testdata/broken.yaml")
	if err == nil || !strings.Contains(err.Error(), "testdata/broken.yaml") || !strings.Contains(err.Error(), "line 12") {
		t.Fatalf("err = %v, want the file and line 12", err)
	}
	if after := n.must("events", "--last", "1000", "-o", "json"); after != before {
		t.Fatalf("events changed after a refused apply")
	}
	_, err = n.run("get", "frobs")
	if err == nil || !strings.Contains(err.Error(), `the server doesn't have a resource type "frobs"`) {
		t.Fatalf("unknown kind: %v", err)
	}
	n.stop()
}
