package cli

import (
	"os"
	"regexp"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/gantry-sh/gantry/projections/projtest"
)

// TestEdit: what the editor saves updates the object; an unchanged file
// changes nothing; a file that is no longer YAML, or an update the
// aggregate refuses, changes nothing and says where the edit is kept.
func TestEdit(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("deployment", "default", "web", deploymentManifest("web", 3))
	for _, tc := range []struct {
		editor   string
		out, err string // err: a pattern
	}{
		{`sed -i 's/replicas: 3/replicas: 4/'`, "deployment.apps/web edited\n", ""},
		{`true`, "Edit cancelled, no changes made.\n", ""},
		{`printf '\tbroken: [' >>`, "", `^error: edit: \S*gantry-edit-\d+\.yaml is not YAML any more: .*\(the file is kept\)\n$`},
		{`sed -i 's/replicas: 4/replicas: -1/'`, "", `(?s)^error: .*spec.replicas.*\nA copy of your changes is in \S*gantry-edit-\d+\.yaml\n$`},
	} {
		t.Setenv("KUBE_EDITOR", tc.editor)
		out, errOut := gantryOn(c, "edit", "deploy/web")
		if kept := regexp.MustCompile(`\S*gantry-edit-\d+\.yaml`).FindString(errOut); kept != "" {
			t.Cleanup(func() { os.Remove(kept) })
		}
		if out != tc.out || tc.err == "" && errOut != "" || tc.err != "" && !regexp.MustCompile(tc.err).MatchString(errOut) {
			t.Errorf("editor %s: %q %q, want %q and %s", tc.editor, out, errOut, tc.out, tc.err)
		}
	}
	var d appsv1.Deployment
	get(t, c, "deployment", "default", "web", &d)
	if *d.Spec.Replicas != 4 {
		t.Fatalf("replicas %d after the edits, want 4", *d.Spec.Replicas)
	}
}
