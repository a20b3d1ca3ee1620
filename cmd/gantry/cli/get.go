package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

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
	sortBy    string
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
	f.StringVarP(&o.output, "output", "o", "", "wide, name, yaml, json, jsonpath=TEMPLATE (kubectl's JSONPath) or custom-columns=HEADER:PATH,…")
	f.BoolVar(&o.labels, "show-labels", false, "a LABELS column last")
	f.StringVar(&o.sortBy, "sort-by", "", "sort by this field, a JSONPath ('.metadata.creationTimestamp')")
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
		var err error
		if path, err = newPath(template); err != nil {
			return fmt.Errorf("-o jsonpath: %w", err)
		}
	}
	spec, isColumns := strings.CutPrefix(o.output, "custom-columns=")
	var columns []column
	if isColumns {
		var err error
		if columns, err = parseColumns(spec); err != nil {
			return err
		}
	}
	var sortPath *jsonpath.JSONPath
	if o.sortBy != "" {
		var err error
		if sortPath, err = newPath(relaxedPath(o.sortBy)); err != nil {
			return fmt.Errorf("--sort-by: %w", err)
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
		if sortPath != nil {
			sortItems(items, sortPath)
		}
		switch {
		case isColumns:
			if i > 0 {
				fmt.Fprintln(g.out)
			}
			if err := printColumns(g, columns, items); err != nil {
				return err
			}
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
			return fmt.Errorf("unknown output format %q: want wide, name, yaml, json, jsonpath=TEMPLATE or custom-columns=HEADER:PATH,…", o.output)
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

// newPath parses a JSONPath template as kubectl does, missing keys
// allowed (its --allow-missing-template-keys default).
func newPath(template string) (*jsonpath.JSONPath, error) {
	p := jsonpath.New("").AllowMissingKeys(true)
	return p, p.Parse(template)
}

// relaxedPath takes a JSONPath with or without its braces, as kubectl's
// --sort-by and custom-columns do.
func relaxedPath(p string) string {
	if strings.HasPrefix(p, "{") {
		return p
	}
	return "{" + p + "}"
}

// pathValue is what path finds in obj, as text ("" when nothing).
func pathValue(path *jsonpath.JSONPath, obj json.RawMessage) string {
	return findText(path, decodeDoc(obj))
}

// decodeDoc is obj decoded for jsonpath (nil if it is not JSON).
func decodeDoc(obj json.RawMessage) any {
	var doc any
	if json.Unmarshal(obj, &doc) != nil {
		return nil
	}
	return doc
}

// findText is what path finds in a decoded doc, as text ("" when nothing).
func findText(path *jsonpath.JSONPath, doc any) string {
	if doc == nil {
		return ""
	}
	results, err := path.FindResults(doc)
	if err != nil {
		return ""
	}
	var vals []string
	for _, rs := range results {
		for _, r := range rs {
			if r.IsValid() && r.CanInterface() {
				vals = append(vals, fmt.Sprint(r.Interface()))
			}
		}
	}
	return strings.Join(vals, ",")
}

// sortItems orders items by the field path finds: numerically when both
// are numbers, else as text; stably, so equal fields keep the list's order.
func sortItems(items []json.RawMessage, path *jsonpath.JSONPath) {
	type keyed struct {
		key    string
		num    float64
		number bool
		raw    json.RawMessage
	}
	ks := make([]keyed, len(items))
	for i, raw := range items {
		key := pathValue(path, raw)
		num, err := strconv.ParseFloat(key, 64)
		ks[i] = keyed{key, num, err == nil, raw}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if a.number && b.number {
			return cmp.Compare(a.num, b.num)
		}
		return strings.Compare(a.key, b.key)
	})
	for i := range ks {
		items[i] = ks[i].raw
	}
}

// column is one of -o custom-columns.
type column struct {
	header string
	path   *jsonpath.JSONPath
}

func parseColumns(spec string) ([]column, error) {
	var out []column
	for _, c := range strings.Split(spec, ",") {
		header, p, ok := strings.Cut(c, ":")
		if !ok || header == "" || p == "" {
			return nil, fmt.Errorf("-o custom-columns: %q: want HEADER:JSONPATH", c)
		}
		jp, err := newPath(relaxedPath(p))
		if err != nil {
			return nil, fmt.Errorf("-o custom-columns: %s: %w", header, err)
		}
		out = append(out, column{header, jp})
	}
	return out, nil
}

// printColumns is -o custom-columns: a table of the paths' values
// (<none> where a path finds nothing).
func printColumns(g *globals, columns []column, items []json.RawMessage) error {
	tw := tabwriter.NewWriter(g.out, 0, 8, 3, ' ', 0)
	cells := make([]string, len(columns))
	for i, c := range columns {
		cells[i] = c.header
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
	for _, raw := range items {
		doc := decodeDoc(raw)
		for i, c := range columns {
			cells[i] = or(findText(c.path, doc), "<none>")
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
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
	docs := make([]any, len(items))
	for i, raw := range items {
		if err := json.Unmarshal(raw, &docs[i]); err != nil {
			return err
		}
	}
	if err := path.Execute(g.out, listDoc(docs, single)); err != nil {
		return fmt.Errorf("-o jsonpath: %w", err)
	}
	return nil
}

// listDoc is what -o json, yaml and jsonpath print: the one object asked
// for by name, else a List of every object.
func listDoc[T any](items []T, single bool) any {
	if single && len(items) == 1 {
		return items[0]
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{}}
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
	b, err := json.MarshalIndent(listDoc(items, single), "", "    ")
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
