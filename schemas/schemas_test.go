package schemas_test

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/schemas"
	"github.com/gantry-sh/gantry/schemas/generate"
)

// TestSchemasMatchTypes fails when the checked-in schemas and the Go types
// they are generated from drift apart.
func TestSchemasMatchTypes(t *testing.T) {
	want, err := generate.Files()
	if err != nil {
		t.Fatal(err)
	}
	for path, b := range want {
		got, err := fs.ReadFile(schemas.FS(), path)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s is stale or missing: run `go generate ./schemas`", path)
		}
	}
	n := 0
	_ = fs.WalkDir(schemas.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
			if _, ok := want[path]; !ok {
				t.Errorf("%s is checked in but no type generates it", path)
			}
		}
		return nil
	})
	if n != len(want) {
		t.Errorf("%d schema files, want %d", n, len(want))
	}
}

func TestValidateCommand(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	good := `{"namespace":"default","name":"web","object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
	"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
	"spec":{"containers":[{"name":"web","image":"busybox:1","resources":{"limits":{"cpu":"500m","memory":64}}}]}}}}}`
	if err := v.ValidateCommand("deployment", "apply", []byte(good)); err != nil {
		t.Fatalf("valid command refused: %v", err)
	}
	cases := []struct{ name, kind, verb, data, want string }{
		{"wrong type", "deployment", "scale", `{"name":"web","replicas":"many"}`, `at "/replicas"`},
		{"unknown member", "deployment", "scale", `{"name":"web","replicas":1,"force":true}`, "force"},
		{"missing name", "pod", "bind", `{"nodeName":"n1"}`, "name"},
		{"nested unknown field", "deployment", "apply", strings.Replace(good, `"replicas":2`, `"replicas":2,"replicaz":1`, 1), "replicaz"},
		{"not json", "pod", "delete", `{`, "not JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := v.ValidateCommand(c.kind, c.verb, []byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
