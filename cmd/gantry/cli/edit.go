package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// editCmd is kubectl edit: the object as YAML in $KUBE_EDITOR, $EDITOR or
// vi; what is saved replaces its spec and metadata, at the version that
// was edited.
func editCmd(g *globals) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "edit KIND/NAME | KIND NAME",
		Short: "Edit an object in your editor ($KUBE_EDITOR, $EDITOR or vi) and update it with what you save",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.onObject(args, func(client *bus.Client, k *aggregates.Kind, ns, name string) error {
				obj, before, err := fetchYAML(client, k, ns, name)
				if err != nil {
					return err
				}
				m, err := metaOf(obj)
				if err != nil {
					return err
				}
				file, err := os.CreateTemp("", "gantry-edit-*.yaml")
				if err != nil {
					return err
				}
				path := file.Name()
				_, err = file.Write(append([]byte(editHeader), before...))
				if cerr := file.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				if err := g.runEditor(path); err != nil {
					return fmt.Errorf("edit: the editor: %w (your edit, if any, is in %s)", err, path)
				}
				after, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				after = []byte(stripComments(string(after))) // the header
				if string(after) == stripComments(string(before)) {
					os.Remove(path)
					fmt.Fprintln(g.out, "Edit cancelled, no changes made.")
					return nil
				}
				edited, err := yaml.YAMLToJSON(after)
				if err != nil {
					return fmt.Errorf("edit: %s is not YAML any more: %w (the file is kept)", path, err)
				}
				_, err = client.Do(ctx(), k.Token, aggregates.VerbUpdate, aggregates.Command{Namespace: ns, Name: name, ResourceVersion: fmt.Sprint(m.seq), Object: edited}, bus.CommandMeta{Reason: reason})
				if err != nil {
					return fmt.Errorf("%s\nA copy of your changes is in %s", message(err), path)
				}
				os.Remove(path)
				fmt.Fprintf(g.out, "%s/%s edited\n", resourceName(k), name)
				return nil
			})
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")
	return c
}

const editHeader = "# Edit the object below; lines beginning with '#' are ignored.\n" +
	"# Saving an unchanged file changes nothing. Status is not yours to edit.\n#\n"

// runEditor runs the user's editor on path, on the terminal.
func (g *globals) runEditor(path string) error {
	editor := os.Getenv("KUBE_EDITOR")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	// As kubectl: the variable may hold arguments ("code --wait").
	cmd := exec.Command("sh", "-c", editor+` "$1"`, "editor", filepath.Clean(path))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}
