package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

func applyCmd(g *globals) *cobra.Command {
	var file, reason, dryRun string
	c := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Create or update objects from YAML or JSON manifests (multi-document)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := g.manifests(file)
			if err != nil {
				return err
			}
			run := applyRun{reason: reason, nsFlag: cmd.Flags().Changed("namespace")}
			switch dryRun {
			case "none":
			case "server":
				run.dryRun = true
			default:
				return fmt.Errorf("--dry-run=%s: want none or server", dryRun)
			}
			return g.withClient(func(_ *bus.Conn, client *bus.Client) error { return g.applyDocs(client, docs, run) })
		},
	}
	c.Flags().StringVarP(&file, "filename", "f", "", "file, directory or - for stdin")
	c.Flags().StringVar(&dryRun, "dry-run", "none", "server: decide every document and say what it would do, changing nothing")
	c.Flags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")
	return c
}

// manifests reads -f's documents, at least one.
func (g *globals) manifests(file string) ([]Doc, error) {
	if file == "" {
		return nil, fmt.Errorf("must specify -f FILE, DIR or - (stdin)")
	}
	docs, err := readManifests(file, g.in)
	if err == nil && len(docs) == 0 {
		err = errNoManifests
	}
	return docs, err
}

// applyRun is how applyDocs applies.
type applyRun struct {
	reason string
	nsFlag bool // -n given: a document's own namespace must be it
	dryRun bool // decided only, nothing changed
	// report hears each applied document (nil: kubectl's line for it).
	report func(k *aggregates.Kind, ns string, d Doc, r bus.Reply) error
}

// applyDocs applies every document, reporting each like kubectl does; it
// goes on past a refused document and fails at the end.
func (g *globals) applyDocs(client *bus.Client, docs []Doc, run applyRun) error {
	failed := 0
	for _, d := range docs {
		k, err := g.kind(d.Kind)
		if err != nil {
			fmt.Fprintf(g.err, "error: %s:%d: %v\n", d.File, d.Line, err)
			failed++
			continue
		}
		ns := d.Namespace
		if k.Namespaced && ns == "" {
			ns = g.ns()
		}
		if k.Namespaced && run.nsFlag && d.Namespace != "" && d.Namespace != g.namespace {
			fmt.Fprintf(g.err, "error: %s:%d: the namespace from the provided object %q does not match the namespace %q\n", d.File, d.Line, d.Namespace, g.namespace)
			failed++
			continue
		}
		if !k.Namespaced {
			ns = ""
		}
		r, err := client.Do(ctx(), k.Token, aggregates.VerbApply, aggregates.Command{Namespace: ns, Name: d.Name, Object: d.JSON}, bus.CommandMeta{Reason: run.reason, DryRun: run.dryRun})
		for _, w := range r.Warnings {
			fmt.Fprintf(g.err, "Warning: %s\n", w)
		}
		if err != nil {
			fmt.Fprintf(g.err, "error: %s:%d: %s\n", d.File, d.Line, message(err))
			failed++
			continue
		}
		if run.report != nil {
			if err := run.report(k, ns, d, r); err != nil {
				return err
			}
			continue
		}
		dry := ""
		if run.dryRun {
			dry = " (server dry run)"
		}
		fmt.Fprintf(g.out, "%s/%s %s%s\n", resourceName(k), d.Name, outcome(r), dry)
	}
	if failed > 0 && run.dryRun {
		return fmt.Errorf("%d of %d objects were refused in the dry run", failed, len(docs))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d objects were not applied", failed, len(docs))
	}
	return nil
}

func outcome(r bus.Reply) string {
	switch {
	case r.Unchanged:
		return "unchanged"
	case r.Event == aggregates.Created:
		return "created"
	}
	return "configured"
}

// resourceName is kubectl's "deployment.apps" form.
func resourceName(k *aggregates.Kind) string {
	if k.Group == "" {
		return strings.ToLower(k.Name)
	}
	return strings.ToLower(k.Name) + "." + k.Group
}
