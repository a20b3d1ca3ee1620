package cli

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// diffCmd is kubectl diff: what applying the manifests would change, as the
// command service decides it (a server dry run of each apply), against the
// live objects; through `diff -u -N` or $KUBECTL_EXTERNAL_DIFF. It exits
// 1 when something would change, as kubectl.
func diffCmd(g *globals) *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "diff -f FILE|DIR|-",
		Short: "Show what apply -f would change, decided by the cluster without changing anything",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := g.manifests(file)
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "gantry-diff-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			live, merged := filepath.Join(dir, "LIVE"), filepath.Join(dir, "MERGED")
			for _, d := range []string{live, merged} {
				if err := os.Mkdir(d, 0o700); err != nil {
					return err
				}
			}
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			run := applyRun{nsFlag: cmd.Flags().Changed("namespace"), dryRun: true,
				report: func(k *aggregates.Kind, ns string, d Doc, r bus.Reply) error {
					name := strings.Join([]string{strings.ReplaceAll(k.APIVersion(), "/", "."), k.Name, or(ns, "_"), d.Name}, ".")
					if err := writeLive(client, filepath.Join(live, name), k, ns, d.Name, r); err != nil {
						return err
					}
					return writeYAML(filepath.Join(merged, name), k, r.Object)
				}}
			if err := g.applyDocs(client, docs, run); err != nil {
				return err
			}
			return g.externalDiff(live, merged)
		},
	}
	c.Flags().StringVarP(&file, "filename", "f", "", "file, directory or - for stdin")
	return c
}

// writeLive writes the live side of one document's diff: nothing for an
// object the dry run would create, the object the dry run answered with
// when it would change nothing, else the object read as it is now.
func writeLive(client *bus.Client, path string, k *aggregates.Kind, ns, name string, r bus.Reply) error {
	switch {
	case r.Event == aggregates.Created:
		return nil
	case r.Unchanged:
		return writeYAML(path, k, r.Object)
	}
	var now json.RawMessage
	switch err := fetch(client, k.Token, ns, name, &now); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	return writeYAML(path, k, now)
}

// writeYAML writes obj as YAML; a sealed kind's data is left out on both
// sides (the command service never shows it).
func writeYAML(path string, k *aggregates.Kind, obj json.RawMessage) error {
	if k.Sealed {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(obj, &m); err != nil {
			return err
		}
		delete(m, "data")
		delete(m, "stringData")
		var err error
		if obj, err = json.Marshal(m); err != nil {
			return err
		}
	}
	y, err := yaml.JSONToYAML(obj)
	if err != nil {
		return err
	}
	return os.WriteFile(path, y, 0o600)
}

// externalDiff runs the diff program over the two trees: its output is
// the diff, its exit code 1 means "differences", which is gantry's too.
func (g *globals) externalDiff(live, merged string) error {
	prog := os.Getenv("KUBECTL_EXTERNAL_DIFF")
	if prog == "" {
		prog = "diff -u -N"
	}
	args := append(strings.Fields(prog), live, merged)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = g.out, g.err
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return exitCode(1)
	}
	return err
}
