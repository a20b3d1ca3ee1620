package aggregates

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event verbs, the past tense of what happened.
const (
	Created       = "created"
	Updated       = "updated"
	Scaled        = "scaled"
	Labeled       = "labeled"
	Bound         = "bound"
	StatusChanged = "status-changed"
	Terminating   = "terminating"
	Deleted       = "deleted"
)

// EventVerbs lists every event verb.
var EventVerbs = []string{Created, Updated, Scaled, Labeled, Bound, StatusChanged, Terminating, Deleted}

// Event is one fact about one object: its verb and its data.
type Event struct {
	Verb string
	Data json.RawMessage
}

// The data of each event verb. Created carries the whole object.
type (
	// UpdatedData is an RFC 7386 merge patch from the old object to the new.
	UpdatedData struct {
		Patch json.RawMessage `json:"patch"`
	}
	// ScaledData is a change of spec.replicas and the generation it made.
	ScaledData struct {
		Replicas   int32 `json:"replicas"`
		Previous   int32 `json:"previous"`
		Generation int64 `json:"generation"`
	}
	// LabeledData holds the labels set; a null value removes the label.
	LabeledData struct {
		Labels map[string]*string `json:"labels"`
	}
	// BoundData names the node a pod was bound to.
	BoundData struct {
		NodeName string `json:"nodeName"`
	}
	// StatusData is the whole new status.
	StatusData struct {
		Status json.RawMessage `json:"status"`
	}
	// TerminatingData marks the start of a graceful deletion.
	TerminatingData struct {
		DeletionTimestamp  metav1.Time `json:"deletionTimestamp"`
		GracePeriodSeconds int64       `json:"gracePeriodSeconds"`
	}
	// DeletedData is the tombstone.
	DeletedData struct{}
)

func mustJSON(v any) json.RawMessage {
	if b, ok := appendEventData(nil, v); ok {
		return b
	}
	if o, ok := v.(Object); ok {
		if b, ok := appendObject(make([]byte, 0, 1024), o); ok {
			return b
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("aggregates: marshal " + err.Error()) // only plain data types reach here
	}
	return b
}

// appendEventData writes the data of the events every command makes most
// (scaled, labeled, bound, status) as encoding/json does, without its
// reflection; ok false: anything else, or a raw member it would rewrite.
// TestEventDataMatchesMarshal.
func appendEventData(out []byte, v any) ([]byte, bool) {
	switch d := v.(type) {
	case ScaledData:
		out = strconv.AppendInt(append(out, `{"replicas":`...), int64(d.Replicas), 10)
		out = strconv.AppendInt(append(out, `,"previous":`...), int64(d.Previous), 10)
		out = strconv.AppendInt(append(out, `,"generation":`...), d.Generation, 10)
		return append(out, '}'), true
	case LabeledData:
		if d.Labels == nil {
			return append(out, `{"labels":null}`...), true
		}
		out = appendLabels(append(out, `{"labels":`...), d.Labels)
		return append(out, '}'), true
	case BoundData:
		return append(appendString(append(out, `{"nodeName":`...), d.NodeName), '}'), true
	case StatusData:
		if len(d.Status) == 0 {
			return append(out, `{"status":null}`...), true
		}
		out = append(append(out, `{"status":`...), d.Status...)
		return append(out, '}'), Compact(d.Status)
	}
	return out, false
}

// appendLabels writes a label map as encoding/json does (keys sorted, a
// nil value as null), as appendStringMap writes a map of strings.
func appendLabels(out []byte, labels map[string]*string) []byte {
	out = append(out, '{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(appendString(out, k), ':')
		if v := labels[k]; v == nil {
			out = append(out, "null"...)
		} else {
			out = appendString(out, *v)
		}
	}
	return append(out, '}')
}
