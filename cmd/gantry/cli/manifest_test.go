package cli

import (
	"strings"
	"testing"
)

func TestSplitDocsNamesFileAndLine(t *testing.T) {
	src := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# comment only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: [oops\n"
	_, err := splitDocs("m.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "m.yaml") || !strings.Contains(err.Error(), "line 12") {
		t.Fatalf("err = %v, want m.yaml and line 12", err)
	}
	docs, err := splitDocs("ok.yaml", []byte(strings.SplitN(src, "---\n# comment", 2)[0]))
	if err != nil || len(docs) != 1 || docs[0].Name != "a" || docs[0].Kind != "ConfigMap" {
		t.Fatalf("docs = %+v, %v", docs, err)
	}
	for name, doc := range map[string]string{
		"no kind": "apiVersion: v1\nmetadata: {name: a}\n",
		"no name": "apiVersion: v1\nkind: ConfigMap\n",
		"scalar":  "just a string\n",
	} {
		if _, err := splitDocs("x.yaml", []byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzSplitDocs: any bytes are split and converted or refused with an
// error naming the file; never a panic.
func FuzzSplitDocs(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: p}\n"))
	f.Add([]byte("a: [\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("\t- : :\n"))
	f.Add([]byte("metadata: {name: &a [*a]}\nkind: X\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, err := splitDocs("f.yaml", b)
		if err != nil {
			if !strings.Contains(err.Error(), "f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, d := range docs {
			if d.Kind == "" || d.Name == "" {
				t.Fatalf("accepted a document without kind or name: %+v", d)
			}
		}
	})
}
