package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/bus"
)

// TestControlPlanesTakeTurns: two `gantry up` on one NATS server (--nats)
// share the work: both take commands and queries, but only the leader runs
// the scheduler and the controllers. When it stops it lets the lead go, the
// other takes over, and its controllers act: a changed pod template gets a
// new ReplicaSet.
func TestControlPlanesTakeTurns(t *testing.T) {
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := ns.ClientURL()

	a := startUp(t, t.TempDir(), "--nats", url)
	a.waitLog("leading the control plane")
	// Secrets are sealed with the cluster's key: every control plane needs it.
	homeB := t.TempDir()
	key, err := os.ReadFile(filepath.Join(a.home, "data", "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(homeB, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(homeB, "data", "secret.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	b := startUp(t, homeB, "--nats", url)
	b.waitLog("following the control plane led by")

	b.must("apply", "-f", "testdata/app.yaml")
	a.waitFor("the leader's deployment controller makes web's ReplicaSet", func() bool {
		return strings.Count(a.must("get", "rs", "-n", "shop", "-o", "name"), "web-") == 1
	})
	a.stop()
	b.waitLog("leading the control plane")
	b.must("set", "image", "deployment/web", "-n", "shop", "web=registry.local:5000/web:2")
	b.waitFor("the new leader's deployment controller makes a second ReplicaSet", func() bool {
		return strings.Count(b.must("get", "rs", "-n", "shop", "-o", "name"), "web-") == 2
	})
	b.stop()
}

// waitLog waits (at most 30 s) until the process printed line.
func (n *node) waitLog(line string) {
	n.t.Helper()
	n.waitFor("the log to say "+line, func() bool { return strings.Contains(n.log.String(), line) })
}

// waitFor polls cond every 100 ms for at most 30 s.
func (n *node) waitFor(what string, cond func() bool) {
	n.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	n.t.Fatalf("waited 30 s for %s; log:\n%s", what, n.log)
}
