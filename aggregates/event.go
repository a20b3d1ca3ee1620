package aggregates

import (
	"encoding/json"

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
	b, err := json.Marshal(v)
	if err != nil {
		panic("aggregates: marshal " + err.Error()) // only plain data types reach here
	}
	return b
}
