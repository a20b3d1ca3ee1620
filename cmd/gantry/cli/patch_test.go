package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/gantry-sh/gantry/projections/projtest"
)

// TestPatchAnnotateRestart: patch takes a merge patch in JSON or YAML and
// refuses other patch types; annotate and label refuse to change a value
// without --overwrite, as kubectl; rollout restart stamps the pod template.
func TestPatchAnnotateRestart(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("deployment", "default", "web", deploymentManifest("web", 3))
	gantry := func(args ...string) (string, error) {
		out, errOut := gantryOn(c, args...)
		if err := c.CaughtUp(context.Background()); err != nil { // the next command reads what this one wrote
			t.Fatal(err)
		}
		if errOut != "" {
			return out, errorString(strings.TrimSpace(errOut))
		}
		return out, nil
	}
	for _, step := range []struct {
		args    []string
		out     string // printed, or
		refusal string // the error
	}{
		{[]string{"patch", "deploy", "web", "-p", `{"spec":{"replicas":5}}`}, "deployment.apps/web patched\n", ""},
		{[]string{"patch", "deployment/web", "-p", "spec: {minReadySeconds: 3}"}, "deployment.apps/web patched\n", ""},
		{[]string{"patch", "deploy", "web", "--type", "json", "-p", `[{"op":"remove","path":"/spec/paused"}]`}, "", "error: patch --type json: only merge patches (RFC 7386) are supported"},
		{[]string{"patch", "deploy", "web", "-p", `[1]`}, "", "error: patch: -p must be an object: [1]"},
		{[]string{"annotate", "deploy", "web", "team=a", "note=x"}, "deployment.apps/web annotated\n", ""},
		{[]string{"annotate", "deploy/web", "team=b"}, "", "error: 'team' already has a value (a), and --overwrite is false"},
		{[]string{"annotate", "deploy/web", "team=b", "--overwrite"}, "deployment.apps/web annotated\n", ""},
		{[]string{"annotate", "deploy", "web", "note-"}, "deployment.apps/web annotated\n", ""},
		{[]string{"annotate", "deploy", "web", "team"}, "", `error: annotation "team": want key=value or key-`},
		{[]string{"label", "deploy", "web", "tier=a"}, "deployment.apps/web labeled\n", ""},
		{[]string{"label", "deploy/web", "tier=b", "app=web"}, "", "error: 'tier' already has a value (a), and --overwrite is false"},
		{[]string{"label", "deploy/web", "tier=b", "--overwrite"}, "deployment.apps/web labeled\n", ""},
		{[]string{"label", "deploy/web", "tier=b"}, "deployment.apps/web unchanged\n", ""},
		{[]string{"rollout", "restart", "deployment/web"}, "deployment.apps/web restarted\n", ""},
		{[]string{"rollout", "restart", "configmap/x"}, "", "error: rollout restart works on deployments, daemonsets and statefulsets, not configmaps"},
	} {
		out, err := gantry(step.args...)
		if step.refusal != "" {
			if err == nil || err.Error() != step.refusal {
				t.Fatalf("gantry %s: got %v, want the refusal %q", strings.Join(step.args, " "), err, step.refusal)
			}
			continue
		}
		if err != nil || out != step.out {
			t.Fatalf("gantry %s: %q, %v; want %q", strings.Join(step.args, " "), out, err, step.out)
		}
	}
	var d appsv1.Deployment
	get(t, c, "deployment", "default", "web", &d)
	if *d.Spec.Replicas != 5 || d.Spec.MinReadySeconds != 3 {
		t.Errorf("patched: replicas %d, minReadySeconds %d; want 5 and 3", *d.Spec.Replicas, d.Spec.MinReadySeconds)
	}
	if d.Labels["tier"] != "b" || d.Annotations["team"] != "b" || d.Annotations["note"] != "" {
		t.Errorf("annotations %v: want team=b and no note", d.Annotations)
	}
	at, err := time.Parse(time.RFC3339Nano, d.Spec.Template.Annotations[restartedAtAnnotation])
	if err != nil || time.Since(at) > time.Minute {
		t.Errorf("pod template annotations %v: want %s stamped now", d.Spec.Template.Annotations, restartedAtAnnotation)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
