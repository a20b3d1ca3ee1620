package projections_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/gantry-sh/gantry/projections"
)

// readTree concatenates every file under dir: the store's raw bytes.
func readTree(t *testing.T, dir string) []byte {
	var all bytes.Buffer
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all.Bytes()
}

func projectionsList(kind, ns, name string) projections.ListRequest {
	return projections.ListRequest{Kind: kind, Namespace: ns, Name: name}
}
