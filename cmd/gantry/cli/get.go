package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

type getOptions struct {
	output    string
	selector  string
	at        string
	all       bool
	watch     bool
	watchOnly bool
	labels    bool
}

func (o getOptions) table(k *aggregates.Kind) tableOpts {
	return tableOpts{withNS: o.all && k.Namespaced, wide: o.output == "wide", labels: o.labels}
}

func getCmd(g *globals) *cobra.Command {
	o := getOptions{}
	c := &cobra.Command{
		Use:   "get KIND[,KIND…] [NAME] [-n NS|-A] [-l SELECTOR] [-o wide|yaml|json] [--at TIME|SEQ] [-w]",
		Short: "List objects, now or as they were at a time or stream sequence; -w prints every change after",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			if o.watch || o.watchOnly {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return g.watch(ctx, conn, client, strings.Split(args[0], ","), name, o)
			}
			return g.get(client, strings.Split(args[0], ","), name, o)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.output, "output", "o", "", "wide, name, yaml, json or jsonpath=TEMPLATE (kubectl's JSONPath)")
	f.BoolVar(&o.labels, "show-labels", false, "a LABELS column last")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector (e.g. app=web,tier!=db)")
	f.StringVar(&o.at, "at", "", "show the state as of an RFC 3339 time or a stream sequence")
	f.BoolVarP(&o.all, "all-namespaces", "A", false, "list across all namespaces")
	f.BoolVarP(&o.watch, "watch", "w", false, "after the list, print each object again whenever an event changes it (with --at: every change since then, then live)")
	f.BoolVar(&o.watchOnly, "watch-only", false, "as --watch, without the list first")
	return c
}

func (g *globals) get(client *bus.Client, kinds []string, name string, o getOptions) error {
	var all []json.RawMessage
	template, isPath := strings.CutPrefix(o.output, "jsonpath=")
	var path *jsonpath.JSONPath
	if isPath {
		path = jsonpath.New("get").AllowMissingKeys(true) // kubectl's --allow-missing-template-keys default
		if err := path.Parse(template); err != nil {
			return fmt.Errorf("-o jsonpath: %w", err)
		}
	}
	for i, kname := range kinds {
		k, err := g.kind(kname)
		if err != nil {
			return err
		}
		items, _, err := g.list(client, k, name, o)
		if err != nil {
			return err
		}
		switch {
		case isPath || o.output == "json" || o.output == "yaml":
			all = append(all, items...)
		case o.output == "name":
			if err := printNames(g, k, items); err != nil {
				return err
			}
		case o.output == "" || o.output == "wide":
			if len(items) == 0 && name == "" {
				if len(kinds) == 1 {
					fmt.Fprintf(g.err, "No resources found%s.\n", g.where(k, o))
				}
				continue
			}
			if i > 0 {
				fmt.Fprintln(g.out)
			}
			if err := printTable(g.out, k, items, o.table(k)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown output format %q: want wide, name, yaml, json or jsonpath=TEMPLATE", o.output)
		}
	}
	switch {
	case isPath:
		return printPath(g, path, all, name != "" && len(kinds) == 1)
	case o.output == "json" || o.output == "yaml":
		return printObjects(g, all, name != "" && len(kinds) == 1, o.output)
	}
	return nil
}

// printNames is -o name: kind.group/name, one a line.
func printNames(g *globals, k *aggregates.Kind, items []json.RawMessage) error {
	for _, raw := range items {
		m, err := metaOf(raw)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.out, "%s/%s\n", resourceName(k), m.Name)
	}
	return nil
}

// printPath is -o jsonpath=TEMPLATE, run as kubectl runs it: over the one
// object asked for by name, else over a List of every object.
func printPath(g *globals, path *jsonpath.JSONPath, items []json.RawMessage, single bool) error {
	list := make([]any, len(items))
	for i, raw := range items {
		if err := json.Unmarshal(raw, &list[i]); err != nil {
			return err
		}
	}
	var data any = map[string]any{"apiVersion": "v1", "kind": "List", "items": list, "metadata": map[string]any{}}
	if single && len(list) == 1 {
		data = list[0]
	}
	if err := path.Execute(g.out, data); err != nil {
		return fmt.Errorf("-o jsonpath: %w", err)
	}
	return nil
}

func (g *globals) where(k *aggregates.Kind, o getOptions) string {
	if !k.Namespaced || o.all {
		return ""
	}
	return " in " + g.ns() + " namespace"
}

// list fetches every matching object, page by page, and the lowest stream
// sequence a page reflected (pages are read one after another: each holds
// every event up to its own sequence).
func (g *globals) list(client *bus.Client, k *aggregates.Kind, name string, o getOptions) (items []json.RawMessage, seq uint64, err error) {
	req := projections.ListRequest{Kind: k.Token, Name: name, Selector: o.selector, At: o.at, Limit: 500}
	if k.Namespaced && !o.all {
		req.Namespace = g.ns()
	}
	for page := 0; ; page++ {
		var resp projections.ListResponse
		if err := client.Query(ctx(), projections.QueryList, req, &resp); err != nil {
			return nil, 0, err
		}
		items = append(items, resp.Items...)
		if page == 0 || resp.Seq < seq {
			seq = resp.Seq
		}
		if resp.Continue == "" {
			return items, seq, nil
		}
		req.Continue = resp.Continue
	}
}

func printObjects(g *globals, items []json.RawMessage, single bool, format string) error {
	var doc any = map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{}}
	if single && len(items) == 1 {
		doc = items[0]
	}
	b, err := json.MarshalIndent(doc, "", "    ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
		_, err = g.out.Write(b)
		return err
	}
	_, err = fmt.Fprintf(g.out, "%s\n", b)
	return err
}
