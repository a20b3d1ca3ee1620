package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/bus"
)

// Query verbs.
const (
	QueryList    = "list"
	QueryHistory = "history"
	QueryEvents  = "events"
)

// ListRequest asks for objects of a kind, now or as they were.
type ListRequest struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"` // "": all namespaces
	Name      string `json:"name,omitempty"`      // one object
	Selector  string `json:"selector,omitempty"`  // label selector
	// At: a stream sequence or an RFC 3339 time; the state as it was then.
	At       string `json:"at,omitempty"`
	Limit    int    `json:"limit,omitempty"`
	Continue string `json:"continue,omitempty"`
}

// ListResponse holds objects with their resourceVersion set.
type ListResponse struct {
	Kind     string            `json:"kind"`
	Items    []json.RawMessage `json:"items"`
	Continue string            `json:"continue,omitempty"`
	Seq      uint64            `json:"seq"` // the stream sequence the answer reflects
}

// HistoryRequest asks for every event of one object.
type HistoryRequest struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// EventsRequest asks for the last events of the cluster.
type EventsRequest struct {
	Last int `json:"last,omitempty"`
}

// EventRecord is one stored event as history and events show it. Secret
// data in it stays sealed.
type EventRecord struct {
	Seq           uint64          `json:"seq"`
	Time          time.Time       `json:"time"`
	Type          string          `json:"type"`
	Subject       string          `json:"subject"`
	Source        string          `json:"source"`
	Actor         string          `json:"actor,omitempty"`
	Reason        string          `json:"reason,omitempty"`
	ID            string          `json:"id"`
	CausationID   string          `json:"causationid,omitempty"`
	CorrelationID string          `json:"correlationid,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
}

// EventsResponse lists events oldest first.
type EventsResponse struct {
	Events []EventRecord `json:"events"`
}

// Queries answers the query API from a live view and the event store.
type Queries struct {
	view   *View
	store  *bus.Store
	kinds  *aggregates.Registry
	sealer *seal.Sealer
}

// NewQueries serves view and store.
func NewQueries(view *View, store *bus.Store, kinds *aggregates.Registry, sealer *seal.Sealer) *Queries {
	return &Queries{view: view, store: store, kinds: kinds, sealer: sealer}
}

// Serve answers queries on conn until ctx ends.
func (q *Queries) Serve(ctx context.Context, c *bus.Conn) error {
	handlers := map[string]func(context.Context, []byte) (any, error){
		QueryList:    q.list,
		QueryHistory: q.history,
		QueryEvents:  q.events,
	}
	var subs []*nats.Subscription
	for verb, h := range handlers {
		h := h
		sub, err := c.NC.QueueSubscribe(bus.QuerySubject(verb), bus.QueryQueue, func(m *nats.Msg) {
			go q.answer(ctx, m, h)
		})
		if err != nil {
			return fmt.Errorf("projections: serve %s: %w", verb, err)
		}
		subs = append(subs, sub)
	}
	<-ctx.Done()
	for _, s := range subs {
		_ = s.Drain()
	}
	return nil
}

func (q *Queries) answer(ctx context.Context, m *nats.Msg, h func(context.Context, []byte) (any, error)) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := h(ctx, m.Data)
	if err != nil {
		st := statusOf(err)
		out = bus.QueryError{Error: &st}
	}
	body, _ := json.Marshal(out)
	_ = m.Respond(body)
}

func (q *Queries) kind(name string) (*aggregates.Kind, error) {
	k, ok := q.kinds.Lookup(name)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the server doesn't have a resource type %q", name))
	}
	return k, nil
}

func (q *Queries) list(ctx context.Context, body []byte) (any, error) {
	var req ListRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, apierrors.NewBadRequest("list: " + err.Error())
	}
	k, err := q.kind(req.Kind)
	if err != nil {
		return nil, err
	}
	sel, err := labels.Parse(req.Selector)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("selector %q: %v", req.Selector, err))
	}
	view, err := q.viewAt(ctx, req.At)
	if err != nil {
		return nil, err
	}
	if !k.Namespaced {
		req.Namespace = ""
	}
	resp := ListResponse{Kind: k.Name, Items: []json.RawMessage{}, Seq: view.Applied()}
	if req.Name != "" {
		e, ok := view.Get(k.Token, req.Namespace, req.Name)
		if !ok {
			return nil, apierrors.NewNotFound(k.GroupResource(), req.Name)
		}
		resp.Items = append(resp.Items, e.Object())
		return resp, nil
	}
	entries := view.List(k.Token, req.Namespace)
	start := sort.Search(len(entries), func(i int) bool { return entries[i].Namespace+"/"+entries[i].Name > req.Continue })
	if req.Continue == "" {
		start = 0
	}
	for _, e := range entries[start:] {
		if !sel.Empty() && !sel.Matches(labels.Set(labelsOf(e.Raw))) {
			continue
		}
		if req.Limit > 0 && len(resp.Items) == req.Limit {
			last := resp.Items[len(resp.Items)-1]
			resp.Continue = keyOf(last)
			break
		}
		resp.Items = append(resp.Items, e.Object())
	}
	return resp, nil
}

// viewAt is the live view (after it caught up with everything stored when
// the query came in, so a client reads its own writes) or a rebuilt one.
func (q *Queries) viewAt(ctx context.Context, at string) (*View, error) {
	if at == "" {
		head, _, err := q.store.Head(ctx)
		if err != nil {
			return nil, err
		}
		return q.view, q.view.WaitFor(ctx, head)
	}
	seq, err := q.resolveAt(ctx, at)
	if err != nil {
		return nil, err
	}
	return At(ctx, q.store, q.sealer, seq)
}

func (q *Queries) resolveAt(ctx context.Context, at string) (uint64, error) {
	var seq uint64
	if _, err := fmt.Sscanf(at, "%d", &seq); err == nil && fmt.Sprint(seq) == at {
		return seq, nil
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("--at %q: want a stream sequence or an RFC 3339 time such as 2026-11-21T10:00:00Z", at))
	}
	return q.store.SeqAt(ctx, t)
}

func (q *Queries) history(ctx context.Context, body []byte) (any, error) {
	var req HistoryRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, apierrors.NewBadRequest("history: " + err.Error())
	}
	k, err := q.kind(req.Kind)
	if err != nil {
		return nil, err
	}
	if !k.Namespaced {
		req.Namespace = ""
	}
	events, err := q.store.Load(ctx, bus.EventSubject(k.Token, req.Namespace, req.Name), 0)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, apierrors.NewNotFound(k.GroupResource(), req.Name)
	}
	resp := EventsResponse{}
	for _, e := range events {
		resp.Events = append(resp.Events, record(e))
	}
	return resp, nil
}

func (q *Queries) events(ctx context.Context, body []byte) (any, error) {
	var req EventsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, apierrors.NewBadRequest("events: " + err.Error())
	}
	if req.Last <= 0 {
		req.Last = 100
	}
	head, _, err := q.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	from := uint64(1)
	if head > uint64(req.Last) {
		from = head - uint64(req.Last) + 1
	}
	resp := EventsResponse{Events: []EventRecord{}}
	err = q.store.Replay(ctx, nil, from, head, func(e bus.Envelope) error {
		resp.Events = append(resp.Events, record(e))
		return nil
	})
	return resp, err
}

func record(e bus.Envelope) EventRecord {
	return EventRecord{
		Seq: e.Seq, Time: e.Stored, Type: e.Type, Subject: e.Subject, Source: e.Source, Actor: e.Actor,
		Reason: e.Reason, ID: e.ID, CausationID: e.CausationID, CorrelationID: e.CorrelationID, Data: e.Data,
	}
}

func labelsOf(raw []byte) map[string]string {
	var m struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.Metadata.Labels
}

func keyOf(raw []byte) string {
	var m struct {
		Metadata struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.Metadata.Namespace + "/" + m.Metadata.Name
}
