package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// target resolves "KIND NAME" or "KIND/NAME" arguments.
func (g *globals) target(args []string) (*aggregates.Kind, string, string, error) {
	kname, name := args[0], ""
	if i := strings.Index(kname, "/"); i >= 0 {
		kname, name = kname[:i], kname[i+1:]
	} else if len(args) > 1 {
		name = args[1]
	}
	k, err := g.kind(kname)
	if err != nil {
		return nil, "", "", err
	}
	if name == "" {
		return nil, "", "", fmt.Errorf("a name is required: %s NAME or %s/NAME", kname, kname)
	}
	return k, g.nsFor(k), name, nil
}

// nsFor is the namespace the flags name for objects of k ("" when k is
// cluster-scoped).
func (g *globals) nsFor(k *aggregates.Kind) string {
	if !k.Namespaced {
		return ""
	}
	return g.ns()
}

// namesMatching names the objects of k in the namespace that selector
// ("" for every one) matches.
func (g *globals) namesMatching(client *bus.Client, k *aggregates.Kind, selector string) ([]string, error) {
	items, _, err := g.list(client, k, "", getOptions{selector: selector})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(items))
	for _, raw := range items {
		m, err := metaOf(raw)
		if err != nil {
			return nil, err
		}
		names = append(names, m.Name)
	}
	return names, nil
}

// send connects, sends one command and prints kubectl's line for it.
func (g *globals) send(k *aggregates.Kind, verb, ns, name string, cmd aggregates.Command, reason, done string) error {
	return g.withClient(func(_ *bus.Conn, client *bus.Client) error {
		return g.sendWith(client, k, verb, ns, name, cmd, reason, done)
	})
}

// sendWith is send on a connection the caller holds.
func (g *globals) sendWith(client *bus.Client, k *aggregates.Kind, verb, ns, name string, cmd aggregates.Command, reason, done string) error {
	cmd.Namespace, cmd.Name = ns, name
	r, err := client.Do(ctx(), k.Token, verb, cmd, bus.CommandMeta{Reason: reason})
	if err != nil {
		return err
	}
	g.done(k, name, r, verb != aggregates.VerbDelete, done)
	return nil
}

// done prints kubectl's line for a command on an object: word, or
// "unchanged" when it changed nothing (and that may be said).
func (g *globals) done(k *aggregates.Kind, name string, r bus.Reply, sayUnchanged bool, word string) {
	if r.Unchanged && sayUnchanged {
		word = "unchanged"
	}
	fmt.Fprintf(g.out, "%s/%s %s\n", resourceName(k), name, word)
}

func deleteCmd(g *globals) *cobra.Command {
	var reason, file, cascade, selector string
	var grace int64
	var all bool
	c := &cobra.Command{
		Use:   "delete KIND NAME… | KIND/NAME… | KIND -l SELECTOR | KIND --all | -f FILE",
		Short: "Delete objects (their history stays: deletion is a tombstone event)",
		RunE: func(cmd *cobra.Command, args []string) error {
			var dcmd aggregates.Command
			if cmd.Flags().Changed("grace-period") {
				dcmd.GracePeriodSeconds = &grace
			}
			if file != "" {
				return g.deleteFile(file, dcmd, reason)
			}
			if len(args) == 0 {
				return fmt.Errorf("delete needs KIND NAME, KIND/NAME, KIND -l SELECTOR, KIND --all or -f FILE")
			}
			targets, selectFrom, err := g.deleteTargets(args, selector, all)
			if err != nil {
				return err
			}
			return g.withClient(func(conn *bus.Conn, client *bus.Client) error {
				if selectFrom != nil {
					if targets, err = g.selected(client, selectFrom, selector); err != nil {
						return err
					}
				}
				for _, t := range targets {
					if err := g.deleteCascade(conn, client, t.k, t.ns, t.name, dcmd, reason, cascade); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")
	c.Flags().StringVar(&cascade, "cascade", "background", "dependents: background (collected after), foreground (wait until they are gone) or orphan (keep them)")
	c.Flags().StringVarP(&file, "filename", "f", "", "delete the objects of a manifest")
	c.Flags().StringVarP(&selector, "selector", "l", "", "delete every object of the kind matching this label selector")
	c.Flags().BoolVar(&all, "all", false, "delete every object of the kind in the namespace")
	c.Flags().Int64Var(&grace, "grace-period", 0, "seconds a pod's containers get to stop (0: at once)")
	return c
}

// target is one object a verb acts on.
type target struct {
	k        *aggregates.Kind
	ns, name string
}

// deleteTargets reads KIND NAME… or KIND/NAME… into targets, or KIND
// with a selector or --all into the kind to select from (selected names
// them).
func (g *globals) deleteTargets(args []string, selector string, all bool) ([]target, *aggregates.Kind, error) {
	refs, kind, err := objectArgs("delete", args)
	if err != nil {
		return nil, nil, err
	}
	if selector != "" || all {
		if len(refs) > 0 || kind == "" || selector != "" && all {
			return nil, nil, fmt.Errorf("delete: -l or --all takes a kind alone (and not both)")
		}
		k, err := g.kind(kind)
		return nil, k, err
	}
	if len(refs) == 0 {
		return nil, nil, fmt.Errorf("delete: a name is required: %s NAME… or %s/NAME…", kind, kind)
	}
	out := make([]target, 0, len(refs))
	for _, r := range refs {
		k, err := g.kind(r.kind)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, target{k, g.nsFor(k), r.name})
	}
	return out, nil, nil
}

// objectRef is one object named on the command line: its kind as typed
// and its name.
type objectRef struct{ kind, name string }

// objectArgs reads a verb's objects as kubectl does: KIND NAME… (one
// kind) or KIND/NAME… (kinds may differ), not both forms at once. KIND
// alone names no object and is returned as kind, for -l or --all.
func objectArgs(verb string, args []string) (refs []objectRef, kind string, err error) {
	if len(args) == 0 {
		return nil, "", fmt.Errorf("%s: want KIND NAME… or KIND/NAME…", verb)
	}
	slashed := strings.Contains(args[0], "/")
	for i, a := range args {
		k, name, slash := strings.Cut(a, "/")
		switch {
		case slash != slashed:
			return nil, "", fmt.Errorf("%s: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'gantry %s resource/<resource_name>' instead of 'gantry %s resource resource/<resource_name>')", verb, verb, verb)
		case slash && (k == "" || name == ""):
			return nil, "", fmt.Errorf("%s: %q: want KIND/NAME", verb, a)
		case slash:
			refs = append(refs, objectRef{k, name})
		case i == 0:
			kind = a
		default:
			refs = append(refs, objectRef{kind, a})
		}
	}
	if slashed {
		kind = ""
	}
	return refs, kind, nil
}

// selected is every object of k in the namespace matching selector ("":
// all), as targets.
func (g *globals) selected(client *bus.Client, k *aggregates.Kind, selector string) ([]target, error) {
	names, err := g.namesMatching(client, k, selector)
	var out []target
	for _, name := range names {
		out = append(out, target{k, g.nsFor(k), name})
	}
	if err == nil && len(out) == 0 {
		fmt.Fprintf(g.err, "No resources found%s.\n", g.where(k, getOptions{}))
	}
	return out, err
}

func (g *globals) deleteFile(file string, dcmd aggregates.Command, reason string) error {
	docs, err := readManifests(file, g.in)
	if err != nil {
		return err
	}
	return g.withClient(func(_ *bus.Conn, client *bus.Client) error {
		for _, d := range docs {
			k, err := g.kind(d.Kind)
			if err != nil {
				return err
			}
			ns := or(d.Namespace, g.ns())
			if !k.Namespaced {
				ns = ""
			}
			if err := g.sendWith(client, k, aggregates.VerbDelete, ns, d.Name, dcmd, reason, "deleted"); err != nil {
				return err
			}
		}
		return nil
	})
}

func scaleCmd(g *globals) *cobra.Command {
	var replicas int32
	var reason string
	c := &cobra.Command{
		Use:   "scale KIND/NAME --replicas=N",
		Short: "Set the number of replicas of a deployment or replica set",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("replicas") {
				return fmt.Errorf("--replicas is required")
			}
			k, ns, name, err := g.target(args)
			if err != nil {
				return err
			}
			return g.send(k, aggregates.VerbScale, ns, name, aggregates.Command{Replicas: &replicas}, reason, "scaled")
		},
	}
	c.Flags().Int32Var(&replicas, "replicas", 0, "the new number of replicas")
	c.Flags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")
	return c
}

func labelCmd(g *globals) *cobra.Command {
	return keysCmd(g, "label", "label", aggregates.VerbLabel, "labeled")
}

// keysCmd is label (field "label") or annotate ("annotation"), named use: key=value
// sets, key- removes, and a value already set to something else changes
// only with --overwrite (kubectl's rule; the version read is the change's
// precondition, so a value set meanwhile is not overwritten unseen
// either). Labels have their command; annotations go as a merge patch.
func keysCmd(g *globals, use, field, verb, word string) *cobra.Command {
	var reason string
	var overwrite bool
	c := &cobra.Command{
		Use:   use + " KIND NAME | KIND/NAME key=value… key-… [--overwrite]",
		Short: "Add, change (key=value, --overwrite) or remove (key-) " + field + "s",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, ns, name, keys, err := g.targetAndKeys(args, field)
			if err != nil {
				return err
			}
			return g.withClient(func(_ *bus.Conn, client *bus.Client) error {
				rv := ""
				if !overwrite {
					if rv, err = guardOverwrite(client, k, ns, name, field+"s", keys); err != nil {
						return err
					}
				}
				c := aggregates.Command{ResourceVersion: rv, Labels: keys}
				if verb == aggregates.VerbPatch {
					if c.Patch, err = json.Marshal(map[string]any{"metadata": map[string]any{field + "s": keys}}); err != nil {
						return err
					}
					c.Labels = nil
				}
				return g.sendWith(client, k, verb, ns, name, c, reason, word)
			})
		},
	}
	c.Flags().BoolVar(&overwrite, "overwrite", false, "change "+field+"s that already have a value")
	c.Flags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")
	return c
}

// targetAndKeys reads "KIND NAME key=value… key-…" (or KIND/NAME …) for
// label and annotate; what names the keys in errors.
func (g *globals) targetAndKeys(args []string, what string) (*aggregates.Kind, string, string, map[string]*string, error) {
	split := 2
	if strings.Contains(args[0], "/") {
		split = 1
	}
	k, ns, name, err := g.target(args[:split])
	if err != nil {
		return nil, "", "", nil, err
	}
	keys, err := parseLabelArgs(args[split:])
	if err != nil {
		return nil, "", "", nil, errors.New(strings.ReplaceAll(err.Error(), "label", what))
	}
	return k, ns, name, keys, nil
}

func parseLabelArgs(args []string) (map[string]*string, error) {
	out := map[string]*string{}
	for _, a := range args {
		if strings.HasSuffix(a, "-") && !strings.Contains(a, "=") {
			out[strings.TrimSuffix(a, "-")] = nil
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("label %q: want key=value or key-", a)
		}
		out[k] = &v
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("at least one label update is required")
	}
	return out, nil
}
