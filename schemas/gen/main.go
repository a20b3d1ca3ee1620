// Command gen writes Gantry's JSON Schemas into schemas/ (go generate ./schemas).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gantry-sh/gantry/schemas/generate"
)

func main() {
	files, err := generate.Files()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for path, b := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Printf("wrote %d schemas\n", len(files))
}
