package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// TestDryRunAndDiff: apply --dry-run=server says what each document would
// do and diff shows it against the live objects, both decided by the
// command service; neither appends an event nor records a refusal, and
// diff exits 1 only when something would change.
func TestDryRunAndDiff(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("deployment", "default", "web", deploymentManifest("web", 3))
	dir := t.TempDir()
	manifest := filepath.Join(dir, "app.yaml")
	write := func(replicas string) {
		doc := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: ` + replicas + `
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {mode: fast}
`
		if err := os.WriteFile(manifest, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(append([]string{"--server", c.Server.ClientURL()}, args...), nil, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	counts := func() (uint64, uint64) {
		ctx := context.Background()
		var n [2]uint64
		for i, name := range []string{bus.EventsStream, bus.RejectedStream} {
			s, err := c.Conn.JS.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n[i] = info.State.Msgs
		}
		return n[0], n[1]
	}
	events, rejected := counts()

	write("5")
	code, out, errOut := run("diff", "-f", manifest)
	if code != 1 || errOut != "" || !strings.Contains(out, "-  replicas: 3\n") || !strings.Contains(out, "+  replicas: 5\n") ||
		!strings.Contains(out, "+  mode: fast\n") || !strings.Contains(out, "v1.ConfigMap.default.cfg") {
		t.Fatalf("diff: exit %d, stderr %q:\n%s", code, errOut, out)
	}
	code, out, errOut = run("apply", "-f", manifest, "--dry-run=server")
	if code != 0 || out != "deployment.apps/web configured (server dry run)\nconfigmap/cfg created (server dry run)\n" || errOut != "" {
		t.Fatalf("apply --dry-run=server: exit %d %q %q", code, out, errOut)
	}
	write("-1")
	if code, _, errOut = run("apply", "-f", manifest, "--dry-run=server"); code != 1 || !strings.Contains(errOut, "spec.replicas") {
		t.Fatalf("a refused dry run: exit %d %q", code, errOut)
	}
	if e, r := counts(); e != events || r != rejected {
		t.Fatalf("dry runs changed the streams: %d events (was %d), %d rejections (was %d)", e, events, r, rejected)
	}
	var d appsv1.Deployment
	get(t, c, "deployment", "default", "web", &d)
	if *d.Spec.Replicas != 3 {
		t.Fatalf("replicas %d after dry runs, want 3", *d.Spec.Replicas)
	}

	write("5")
	if code, _, errOut = run("apply", "-f", manifest); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	if code, out, errOut = run("diff", "-f", manifest); code != 0 || out != "" || errOut != "" {
		t.Fatalf("diff after the apply: exit %d %q %q", code, out, errOut)
	}
}
