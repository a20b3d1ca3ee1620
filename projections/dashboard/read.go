package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// latestEvents is how many events the overview and /api/events show.
const latestEvents = 50

// scanFiltered bounds how far back a namespace-filtered event list looks.
const scanFiltered = 5000

// httpError is an error with the status it answers with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

// frame reads the cut (?at) and the filter (?namespace) of a request.
func (s *Server) frame(r *http.Request) (Frame, snapshot, error) {
	at, ns := r.URL.Query().Get("at"), r.URL.Query().Get("namespace")
	snap := snapshot{view: s.view, Seq: s.view.Applied()}
	if at != "" {
		var err error
		if snap, err = s.past.past(r.Context(), at); errors.Is(err, errBadAt) {
			return Frame{}, snapshot{}, &httpError{http.StatusBadRequest, err.Error()}
		} else if err != nil {
			return Frame{}, snapshot{}, err
		}
	}
	f := Frame{View: Cut{Past: snap.Past, At: snap.At, Seq: snap.Seq, Time: snap.Time}, Namespace: ns}
	f.Nav = s.counts(f, snap)
	return f, snap, nil
}

// counts is every kind with its number of objects; the namespace filter
// applies to namespaced kinds.
func (s *Server) counts(f Frame, snap snapshot) []KindCount {
	var out []KindCount
	for _, k := range s.kinds.Kinds() {
		ns := ""
		if k.Namespaced {
			ns = f.Namespace
		}
		kc := kindCount(k, f)
		kc.Count = len(snap.view.List(k.Token, ns))
		out = append(out, kc)
	}
	return out
}

func kindCount(k *aggregates.Kind, f Frame) KindCount {
	return KindCount{Kind: k.Name, Token: k.Token, Plural: k.Plural, Label: label(k), Namespaced: k.Namespaced, Href: f.link("/kinds/" + k.Token)}
}

// label is the plural as a heading: the kind's own capitals ("ReplicaSets").
func label(k *aggregates.Kind) string {
	if rest, ok := strings.CutPrefix(k.Plural, strings.ToLower(k.Name)); ok {
		return k.Name + rest
	}
	return strings.ToUpper(k.Plural[:1]) + k.Plural[1:]
}

func (s *Server) kind(r *http.Request) (*aggregates.Kind, error) {
	name := r.PathValue("kind")
	k, ok := s.kinds.Lookup(name)
	if !ok {
		return nil, notFound("no resource type %q", name)
	}
	return k, nil
}

func namespaces(snap snapshot) []string {
	var out []string
	for _, e := range snap.view.List("namespace", "") {
		out = append(out, e.Name)
	}
	return out
}

func (s *Server) overview(r *http.Request) (string, any, error) {
	f, snap, err := s.frame(r)
	if err != nil {
		return "", nil, err
	}
	events, err := s.latest(r.Context(), f, snap.Seq)
	if err != nil {
		return "", nil, err
	}
	return "Overview", Overview{Frame: f, Namespaces: namespaces(snap), Kinds: f.Nav, Events: events}, nil
}

func (s *Server) events(r *http.Request) (string, any, error) {
	f, snap, err := s.frame(r)
	if err != nil {
		return "", nil, err
	}
	events, err := s.latest(r.Context(), f, snap.Seq)
	return "Events", EventList{Frame: f, Events: events}, err
}

func (s *Server) kindTable(r *http.Request) (string, any, error) {
	k, err := s.kind(r)
	if err != nil {
		return "", nil, err
	}
	f, snap, err := s.frame(r)
	if err != nil {
		return "", nil, err
	}
	ns := ""
	if k.Namespaced {
		ns = f.Namespace
	}
	cols := kindColumns[k.Token]
	t := KindTable{Frame: f, Kind: kindCount(k, f), Namespaces: namespaces(snap), Columns: cols.head, Rows: []Row{}}
	for _, e := range snap.view.List(k.Token, ns) {
		t.Rows = append(t.Rows, s.row(f, snap, k, cols, e))
	}
	t.Kind.Count = len(t.Rows)
	return label(k), t, nil
}

func (s *Server) row(f Frame, snap snapshot, k *aggregates.Kind, cols columns, e projections.Entry) Row {
	var meta struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	_ = json.Unmarshal(e.Raw, &meta)
	row := Row{Namespace: e.Namespace, Name: e.Name, Created: meta.Metadata.CreationTimestamp.Time, Age: "<unknown>", Href: f.link(objectPath(k.Token, e.Namespace, e.Name))}
	if !row.Created.IsZero() {
		row.Age = duration.HumanDuration(snap.now().Sub(row.Created))
	}
	if cols.row != nil {
		cells, err := cols.row(e.Raw)
		if err != nil {
			cells = []Cell{{Text: "unreadable: " + err.Error(), Tone: "bad"}}
		}
		row.Cells = cells
	}
	return row
}

func objectPath(kind, namespace, name string) string {
	if namespace == "" {
		return "/objects/" + kind + "/" + name
	}
	return "/objects/" + kind + "/" + namespace + "/" + name
}

func (s *Server) object(r *http.Request) (string, any, error) {
	k, err := s.kind(r)
	if err != nil {
		return "", nil, err
	}
	f, snap, err := s.frame(r)
	if err != nil {
		return "", nil, err
	}
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	if k.Namespaced != (ns != "") {
		return "", nil, notFound("%s is %s: its address is %s", k.Plural, scope(k), objectPath(k.Token, pick(k.Namespaced, "NAMESPACE"), "NAME"))
	}
	p := ObjectPage{Frame: f, Kind: kindCount(k, f), Namespace: ns, Name: name, History: []Event{}}
	if e, ok := snap.view.Get(k.Token, ns, name); ok {
		obj := e.Object()
		if k.Sealed {
			obj = hideSecret(obj)
		}
		p.Exists, p.Object = true, obj
		if y, err := yaml.JSONToYAML(obj); err == nil {
			p.YAML = string(y)
		}
	}
	stored, err := s.store.Load(r.Context(), bus.EventSubject(k.Token, ns, name), 0)
	if err != nil {
		return "", nil, err
	}
	for _, env := range stored {
		ev := s.event(f, env)
		if f.View.Past && env.Seq > snap.Seq {
			ev.Later = true
			p.Later++
		}
		p.History = append(p.History, ev)
	}
	if !p.Exists && len(p.History) == 0 {
		return "", nil, notFound("%s %q not found", k.Name, qualified(ns, name))
	}
	title := k.Name + " " + name
	return title, p, nil
}

func scope(k *aggregates.Kind) string {
	if k.Namespaced {
		return "namespaced"
	}
	return "cluster-scoped"
}

func pick(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

// latest is the last events up to seq, newest first, in the frame's
// namespace if it has one.
func (s *Server) latest(ctx context.Context, f Frame, seq uint64) ([]Event, error) {
	window := uint64(latestEvents)
	if f.Namespace != "" {
		window = scanFiltered
	}
	from := uint64(1)
	if seq > window {
		from = seq - window + 1
	}
	out := []Event{}
	if seq == 0 {
		return out, nil
	}
	err := s.replay(ctx, f, from, seq, func(e Event) error {
		out = append(out, e)
		return nil
	})
	if len(out) > latestEvents {
		out = out[len(out)-latestEvents:]
	}
	slices.Reverse(out)
	return out, err
}

// replay calls fn for the events from..upTo in the frame's namespace (all
// without one). The namespace is matched here, not by a subject filter:
// a filtered replay waits for a match past the range when there is none.
func (s *Server) replay(ctx context.Context, f Frame, from, upTo uint64, fn func(Event) error) error {
	return s.store.Replay(ctx, nil, from, upTo, func(env bus.Envelope) error {
		e := s.event(f, env)
		if f.Namespace != "" && e.Namespace != f.Namespace {
			return nil
		}
		return fn(e)
	})
}

// event is how the dashboard shows one stored event.
func (s *Server) event(f Frame, e bus.Envelope) Event {
	kind, ns, name, _ := bus.ParseEventSubject(e.StreamSubject)
	_, verb, _, _ := bus.ParseEventType(e.Type)
	data := []byte(e.Data)
	if aggregates.IsSealed(kind) {
		data = hideSecretEvent(s.sealer, verb, data)
	}
	return Event{
		EventRecord: projections.EventRecord{
			Seq: e.Seq, Time: e.Stored, Type: e.Type, Subject: e.Subject, Source: e.Source, Actor: e.Actor,
			Reason: e.Reason, ID: e.ID, CausationID: e.CausationID, CorrelationID: e.CorrelationID, Data: data,
		},
		Kind: kind, Namespace: ns, Name: name, Verb: verb, Who: or(e.Actor, e.Source),
		Href: f.link(objectPath(kind, ns, name)),
	}
}

// Change is the event's change as indented JSON: the merge patch of an
// update, the data of anything else.
func (e Event) Change() string {
	data := []byte(e.Data)
	if e.Verb == aggregates.Updated {
		var u aggregates.UpdatedData
		if json.Unmarshal(data, &u) == nil && len(u.Patch) > 0 {
			data = u.Patch
		}
	}
	var b bytes.Buffer
	if json.Indent(&b, data, "", "  ") != nil {
		return string(data)
	}
	return b.String()
}

// When is the event's time for people: UTC, to the second.
func (e Event) When() string { return e.Time.UTC().Format("2006-01-02 15:04:05") }

// Ago is how long before now the event was stored.
func (e Event) Ago() string { return duration.HumanDuration(time.Since(e.Time)) + " ago" }

// Object names the event's object as kind/namespace/name.
func (e Event) Object() string { return e.Kind + "/" + qualified(e.Namespace, e.Name) }

// qualified is "namespace/name", or "name" when cluster-scoped.
func qualified(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
