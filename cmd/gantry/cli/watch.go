package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// watch is `get -w`: the list, then the objects again each time an event
// changes one, until ctx ends. The changes are read from the event stream
// right after the sequence the list reflects and folded here with the
// aggregates' own Apply, so none is missed or shown twice; with --at the
// watch starts in the past and plays every change since, then goes on live.
// Objects leaving the selector are shown once more, as they are then; a
// deleted object is shown as it was last.
func (g *globals) watch(ctx context.Context, conn *bus.Conn, client *bus.Client, kinds []string, name string, o getOptions) error {
	if len(kinds) != 1 {
		return errors.New("watch: one kind at a time")
	}
	k, err := g.kind(kinds[0])
	if err != nil {
		return err
	}
	sel := labels.Everything()
	if o.selector != "" {
		if sel, err = labels.Parse(o.selector); err != nil {
			return fmt.Errorf("selector %q: %w", o.selector, err)
		}
	}
	switch o.output {
	case "", "wide", "json", "yaml":
	default:
		return fmt.Errorf("unknown output format %q: want wide, yaml or json", o.output)
	}
	items, seq, err := g.list(client, k, name, o)
	if err != nil {
		return err
	}
	w := &watcher{g: g, k: k, sel: sel, o: o, known: map[string]watched{}}
	for _, raw := range items {
		m, err := metaOf(raw)
		if err != nil {
			return err
		}
		w.known[m.Namespace+"/"+m.Name] = watched{obj: raw, seq: m.seq}
	}
	if !o.watchOnly {
		if err := w.printList(items); err != nil {
			return err
		}
	}
	store, err := bus.NewStore(ctx, conn)
	if err != nil {
		return err
	}
	ns := ""
	if k.Namespaced && !o.all {
		ns = g.ns()
	}
	err = store.FollowSubjects(ctx, []string{bus.EventFilter(k.Token, ns)}, seq+1, func(e bus.Envelope) error {
		return w.fold(ctx, client, name, e)
	})
	if ctx.Err() != nil {
		return nil // interrupted: a watch ends that way
	}
	return err
}

// watcher holds what a watch has shown of each object.
type watcher struct {
	g      *globals
	k      *aggregates.Kind
	sel    labels.Selector
	o      getOptions
	known  map[string]watched // namespace/name
	widths []int              // of the table's columns so far (nil: no header out yet)
}

// watched is an object as last folded (nil: absent) and the sequence of
// its last event.
type watched struct {
	obj []byte
	seq uint64
}

func (w *watcher) fold(ctx context.Context, client *bus.Client, name string, e bus.Envelope) error {
	_, ns, n, err := bus.ParseEventSubject(e.StreamSubject)
	if err != nil || name != "" && n != name {
		return err
	}
	key := ns + "/" + n
	was := w.known[key]
	if e.Seq <= was.seq {
		return nil // the list already showed it (its page was read later)
	}
	_, verb, _, err := bus.ParseEventType(e.Type)
	if err != nil {
		return err
	}
	var now []byte
	seq := e.Seq
	switch {
	case verb == aggregates.Deleted:
	case w.k.Sealed || was.obj == nil && verb != aggregates.Created:
		// Sealed on the stream, or not listed (outside the selector then):
		// the query service has it.
		if now, err = w.fetch(ctx, client, ns, n, e.Seq); err != nil || now == nil {
			return err
		}
		m, err := metaOf(now)
		if err != nil {
			return err
		}
		seq = max(seq, m.seq)
	default:
		if now, err = aggregates.Apply(was.obj, aggregates.Event{Verb: verb, Data: append([]byte(nil), e.Data...)}); err != nil {
			return fmt.Errorf("watch: event %d on %s: %w", e.Seq, e.StreamSubject, err)
		}
		if now, err = aggregates.WithResourceVersion(now, e.Seq); err != nil {
			return err
		}
	}
	if now == nil {
		delete(w.known, key)
		if was.obj != nil && w.matches(was.obj) {
			return w.print(was.obj)
		}
		return nil
	}
	w.known[key] = watched{obj: now, seq: seq}
	if w.matches(now) || was.obj != nil && w.matches(was.obj) {
		return w.print(now)
	}
	return nil
}

// fetch reads one object from the query service once its view holds the
// event at seq (a later state may come: what the watch shows is then
// newer, never older).
func (w *watcher) fetch(ctx context.Context, client *bus.Client, ns, name string, seq uint64) ([]byte, error) {
	for range 100 {
		var resp projections.ListResponse
		if err := client.Query(ctx, projections.QueryList, projections.ListRequest{Kind: w.k.Token, Namespace: ns, Name: name}, &resp); err != nil {
			return nil, err
		}
		if resp.Seq >= seq {
			if len(resp.Items) == 0 {
				return nil, nil
			}
			return resp.Items[0], nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("watch: the query service did not reach event %d in 5 s", seq)
}

func (w *watcher) matches(obj []byte) bool {
	if w.o.selector == "" {
		return true
	}
	m, err := metaOf(obj)
	return err == nil && w.sel.Matches(labels.Set(m.Labels))
}

func (w *watcher) printList(items []json.RawMessage) error {
	if w.o.output == "json" || w.o.output == "yaml" {
		for _, raw := range items {
			if err := w.print(raw); err != nil {
				return err
			}
		}
		return nil
	}
	if len(items) == 0 {
		return nil
	}
	return w.rows(items)
}

// print shows one object: a table row, or a JSON or YAML document.
func (w *watcher) print(obj []byte) error {
	switch w.o.output {
	case "yaml":
		fmt.Fprint(w.g.out, "---\n") // documents follow one another
		fallthrough
	case "json":
		return printObjects(w.g, []json.RawMessage{obj}, true, w.o.output)
	}
	return w.rows([]json.RawMessage{obj})
}

// rows prints table rows, the header first if it is not out yet, in
// columns as wide as every cell so far (as printTable's, with three spaces
// between): a row printed later lines up under the earlier ones unless a
// cell is wider.
func (w *watcher) rows(items []json.RawMessage) error {
	head, rows, err := tableRows(w.k, items, w.o.table(w.k))
	if err != nil {
		return err
	}
	if w.widths == nil {
		w.widths = make([]int, len(head))
		rows = append([][]string{head}, rows...)
	}
	for _, row := range rows {
		for i, cell := range row {
			w.widths[i] = max(w.widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", w.widths[i]-utf8.RuneCountInString(cell)+3))
			}
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w.g.out, b.String())
	return err
}

// objectMeta is what a watch reads of an object's metadata.
type objectMeta struct {
	Namespace, Name string
	Labels          map[string]string
	seq             uint64
}

func metaOf(obj []byte) (objectMeta, error) {
	var m struct {
		Metadata struct {
			Namespace       string            `json:"namespace"`
			Name            string            `json:"name"`
			Labels          map[string]string `json:"labels"`
			ResourceVersion string            `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(obj, &m); err != nil {
		return objectMeta{}, err
	}
	var seq uint64
	fmt.Sscan(m.Metadata.ResourceVersion, &seq)
	return objectMeta{Namespace: m.Metadata.Namespace, Name: m.Metadata.Name, Labels: m.Metadata.Labels, seq: seq}, nil
}
