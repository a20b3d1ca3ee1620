package cli

import (
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
	ns := g.ns()
	if !k.Namespaced {
		ns = ""
	}
	return k, ns, name, nil
}

// send connects, sends one command and prints kubectl's line for it.
func (g *globals) send(k *aggregates.Kind, verb, ns, name string, cmd aggregates.Command, reason, done string) error {
	conn, client, err := g.connect()
	if err != nil {
		return err
	}
	defer conn.Close()
	cmd.Namespace, cmd.Name = ns, name
	r, err := client.Do(ctx(), k.Token, verb, cmd, bus.CommandMeta{Reason: reason})
	if err != nil {
		return err
	}
	if r.Unchanged && verb != aggregates.VerbDelete {
		done = "unchanged"
	}
	fmt.Fprintf(g.out, "%s/%s %s\n", resourceName(k), name, done)
	return nil
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
			targets, err := g.deleteTargets(args, selector, all)
			if err != nil {
				return err
			}
			for _, t := range targets {
				if err := g.deleteCascade(t.k, t.ns, t.name, dcmd, reason, cascade); err != nil {
					return err
				}
			}
			return nil
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

// deleteTargets reads KIND NAME…, KIND/NAME… (one kind), or KIND with a
// selector or --all (every matching object of the namespace, by name).
func (g *globals) deleteTargets(args []string, selector string, all bool) ([]target, error) {
	if selector != "" || all {
		if len(args) != 1 || strings.Contains(args[0], "/") || selector != "" && all {
			return nil, fmt.Errorf("delete: -l or --all takes a kind alone (and not both)")
		}
		k, err := g.kind(args[0])
		if err != nil {
			return nil, err
		}
		var out []target
		err = g.withClient(func(_ *bus.Conn, client *bus.Client) error {
			items, _, err := g.list(client, k, "", getOptions{selector: selector})
			for _, raw := range items {
				m, err := metaOf(raw)
				if err != nil {
					return err
				}
				out = append(out, target{k, m.Namespace, m.Name})
			}
			return err
		})
		if err == nil && len(out) == 0 {
			fmt.Fprintf(g.err, "No resources found%s.\n", g.where(k, getOptions{}))
		}
		return out, err
	}
	var out []target
	for i, a := range args {
		switch {
		case strings.Contains(a, "/"):
			k, ns, name, err := g.target([]string{a})
			if err != nil {
				return nil, err
			}
			out = append(out, target{k, ns, name})
		case i == 0 && len(args) > 1:
		case i > 0 && !strings.Contains(args[0], "/"):
			k, ns, name, err := g.target([]string{args[0], a})
			if err != nil {
				return nil, err
			}
			out = append(out, target{k, ns, name})
		default:
			return nil, fmt.Errorf("delete: %q: want KIND NAME… or KIND/NAME…", a)
		}
	}
	return out, nil
}

func (g *globals) deleteFile(file string, dcmd aggregates.Command, reason string) error {
	docs, err := readManifests(file, g.in)
	if err != nil {
		return err
	}
	for _, d := range docs {
		k, err := g.kind(d.Kind)
		if err != nil {
			return err
		}
		ns := or(d.Namespace, g.ns())
		if !k.Namespaced {
			ns = ""
		}
		if err := g.send(k, aggregates.VerbDelete, ns, d.Name, dcmd, reason, "deleted"); err != nil {
			return err
		}
	}
	return nil
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
	var reason string
	var overwrite bool
	c := &cobra.Command{
		Use:   "label KIND NAME | KIND/NAME key=value… key-… [--overwrite]",
		Short: "Add, change (key=value, --overwrite) or remove (key-) labels",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, ns, name, labels, err := g.targetAndKeys(args, "label")
			if err != nil {
				return err
			}
			cmdLabels := aggregates.Command{Labels: labels}
			if !overwrite {
				err := g.withClient(func(_ *bus.Conn, client *bus.Client) (err error) {
					cmdLabels.ResourceVersion, err = guardOverwrite(client, k, ns, name, "labels", labels)
					return err
				})
				if err != nil {
					return err
				}
			}
			return g.send(k, aggregates.VerbLabel, ns, name, cmdLabels, reason, "labeled")
		},
	}
	c.Flags().BoolVar(&overwrite, "overwrite", false, "change labels that already have a value")
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
