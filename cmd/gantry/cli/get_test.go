package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// TestGetOutputFormats: -o name, -o jsonpath over one object and over a
// list (kubectl's range), --show-labels, and the refusal of a bad template.
func TestGetOutputFormats(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("deployment", "default", "web", deploymentManifest("web", 3))
	c.Apply("deployment", "default", "db", deploymentManifest("db", 1))
	get := func(args ...string) (string, string) { return gantryOn(c, append([]string{"get"}, args...)...) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy", "-o", "name"}, "deployment.apps/db\ndeployment.apps/web\n"},
		{[]string{"deploy", "web", "-o", "jsonpath={.spec.replicas}"}, "3"},
		{[]string{"deploy", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.replicas}{"\n"}{end}`}, "db=1\nweb=3\n"},
		{[]string{"deploy", "-o", "jsonpath={.items[*].metadata.labels.app}"}, "db web"},
		{[]string{"deploy", "web", "-o", "jsonpath={.spec.nothing}"}, ""},
		{[]string{"deploy", "--sort-by={.metadata.name}", "-o", "jsonpath={.items[*].metadata.name}"}, "db web"},
		{[]string{"deploy", "-o", "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,NODE:.spec.template.spec.nodeName"},
			"NAME   REPLICAS   NODE\ndb     1          <none>\nweb    3          <none>\n"},
	} {
		if out, errOut := get(tc.args...); out != tc.want || errOut != "" {
			t.Errorf("get %s: %q (stderr %q), want %q", strings.Join(tc.args, " "), out, errOut, tc.want)
		}
	}
	out, _ := get("deploy", "--show-labels")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "   LABELS") || !strings.HasSuffix(lines[1], "   app=db") || !strings.HasSuffix(lines[2], "   app=web") {
		t.Errorf("--show-labels:\n%s", out)
	}
	if _, errOut := get("deploy", "-o", "jsonpath={.items[*"); !strings.HasPrefix(errOut, "error: -o jsonpath: ") {
		t.Errorf("a bad template: %q", errOut)
	}
	ten := int32(10) // "10" < "3" as text: the sort compares numbers as numbers
	c.MustDo("deployment", "scale", aggregates.Command{Namespace: "default", Name: "db", Replicas: &ten})
	if out, errOut := get("deploy", "--sort-by=.spec.replicas", "-o", "name"); out != "deployment.apps/web\ndeployment.apps/db\n" || errOut != "" {
		t.Errorf("--sort-by=.spec.replicas (web 3, db 10): %q %q", out, errOut)
	}
	if _, errOut := get("deploy", "-o", "custom-columns=NAME"); errOut != "error: -o custom-columns: \"NAME\": want HEADER:JSONPATH\n" {
		t.Errorf("a bad column: %q", errOut)
	}
	if _, errOut := get("deploy", "-o", "table"); errOut != "error: unknown output format \"table\": want wide, name, yaml, json, jsonpath=TEMPLATE or custom-columns=HEADER:PATH,…\n" {
		t.Errorf("an unknown format: %q", errOut)
	}
}

// TestAPIResources lists every kind, as kubectl api-resources, without a
// cluster.
func TestAPIResources(t *testing.T) {
	var out, errOut strings.Builder
	if code := Main([]string{"api-resources"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if got, want := len(lines)-1, len(aggregates.Builtin().Kinds()); got != want {
		t.Errorf("%d kinds listed, want %d:\n%s", got, want, out.String())
	}
	for _, want := range []string{`(?m)^deployments\s+deploy\s+apps/v1\s+true\s+Deployment$`, `(?m)^namespaces\s+ns\s+v1\s+false\s+Namespace$`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("no line %s:\n%s", want, out.String())
		}
	}
}
