package dashboard

import (
	"encoding/json"
	"net/url"
	"time"

	"github.com/gantry-sh/gantry/projections"
)

// Cut says which state an answer shows: live, or the past as of Seq.
type Cut struct {
	Past bool      `json:"past"`
	At   string    `json:"at,omitempty"` // as the user gave it: a sequence or a time
	Seq  uint64    `json:"seq"`          // the last event the state reflects
	Time time.Time `json:"time,omitzero"`
}

// Frame is what every answer carries: the cut, the namespace filter, and
// (for pages) the kinds to navigate by.
type Frame struct {
	View      Cut         `json:"view"`
	Namespace string      `json:"namespace,omitempty"`
	Nav       []KindCount `json:"-"`
}

// query is the part of a link that keeps the cut and the filter.
func (f Frame) query() string {
	q := url.Values{}
	if f.View.At != "" {
		q.Set("at", f.View.At)
	}
	if f.Namespace != "" {
		q.Set("namespace", f.Namespace)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// link is path with the frame's cut and filter.
func (f Frame) link(path string) string { return path + f.query() }

// KindCount is one kind and how many objects of it there are.
type KindCount struct {
	Kind       string `json:"kind"`  // "Deployment"
	Token      string `json:"token"` // "deployment"
	Plural     string `json:"plural"`
	Label      string `json:"label"` // "Deployments", "EndpointSlices"
	Namespaced bool   `json:"namespaced"`
	Count      int    `json:"count"`
	Href       string `json:"href"`
}

// Overview is the front page: every kind's count and the latest events.
type Overview struct {
	Frame
	Namespaces []string    `json:"namespaces"`
	Kinds      []KindCount `json:"kinds"`
	Events     []Event     `json:"events"`
}

// KindTable is the `gantry get` of one kind.
type KindTable struct {
	Frame
	Kind       KindCount `json:"kind"`
	Namespaces []string  `json:"namespaces"`
	Columns    []string  `json:"columns"`
	Rows       []Row     `json:"rows"`
}

// Width is the number of columns the table draws.
func (t KindTable) Width() int {
	n := len(t.Columns) + 2
	if t.Kind.Namespaced {
		n++
	}
	return n
}

// Row is one object in a KindTable.
type Row struct {
	Namespace string    `json:"namespace,omitempty"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created,omitzero"`
	Age       string    `json:"age"`
	Cells     []Cell    `json:"cells"`
	Href      string    `json:"href"`
}

// ObjectPage is one object as of the cut, and every event of it.
type ObjectPage struct {
	Frame
	Kind      KindCount       `json:"kind"`
	Namespace string          `json:"objectNamespace,omitempty"`
	Name      string          `json:"name"`
	Exists    bool            `json:"exists"` // the object exists as of the cut
	Object    json.RawMessage `json:"object,omitempty"`
	YAML      string          `json:"yaml,omitempty"`
	History   []Event         `json:"history"`
	Later     int             `json:"later"` // events after the cut
}

// EventList is the latest events as of the cut, newest first.
type EventList struct {
	Frame
	Events []Event `json:"events"`
}

// Event is one stored event as the dashboard shows it; Secret values in
// its data are hidden.
type Event struct {
	projections.EventRecord
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Verb      string `json:"verb"`
	Who       string `json:"who"` // the actor, or the source when no actor is named
	Href      string `json:"href"`
	Later     bool   `json:"later,omitempty"` // after the cut of a past view
}
