package aggregates

import (
	"bytes"
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// Apply returns the object after event, given its JSON before (nil: absent).
// It is the one place that knows how an event changes an object; the
// command service and every projection fold with it. The result never
// holds metadata.resourceVersion: that is the event's stream sequence,
// which readers add (WithResourceVersion).
func Apply(obj []byte, e Event) ([]byte, error) {
	if e.Verb == Created {
		return e.Data, nil // not a copy
	}
	return AppendApply(nil, obj, e)
}

// AppendApply is Apply writing the object after the event at the end of
// dst: it returns dst extended by it, or nil when the event leaves no
// object. Within dst's capacity the object is written where it will be
// kept, without an allocation of its own (the View's arena).
func AppendApply(dst, obj []byte, e Event) ([]byte, error) {
	switch e.Verb {
	case Created:
		return append(dst, e.Data...), nil
	case Deleted:
		return nil, nil
	}
	if obj == nil {
		return nil, fmt.Errorf("aggregates: %s event on an absent object", e.Verb)
	}
	if out, ok := applyFast(dst, obj, e); ok {
		return out, nil
	}
	out, err := applyGeneral(obj, e)
	if err != nil || dst == nil {
		return out, err
	}
	return append(dst, out...), nil
}

// applyGeneral is Apply for an object that exists, without the fast path
// (which writes the same bytes, or declines).
func applyGeneral(obj []byte, e Event) ([]byte, error) {
	if out, ok, err := applyShallow(obj, e); ok || err != nil {
		return out, err
	}
	patch, err := patchOf(e)
	if err != nil {
		return nil, err
	}
	if e.Verb == StatusChanged {
		return setStatus(obj, patch)
	}
	out, err := jsonpatch.MergePatch(obj, patch)
	if err != nil {
		return nil, fmt.Errorf("aggregates: apply %s: %w", e.Verb, err)
	}
	return out, nil
}

// patchOf turns an event into the merge patch it stands for (for
// status-changed: the new status itself).
func patchOf(e Event) (json.RawMessage, error) {
	switch e.Verb {
	case Updated:
		var d UpdatedData
		return d.Patch, unmarshalData(e, &d)
	case Scaled:
		var d ScaledData
		err := unmarshalData(e, &d)
		return mustJSON(map[string]any{"spec": map[string]any{"replicas": d.Replicas}, "metadata": map[string]any{"generation": d.Generation}}), err
	case Labeled:
		var d LabeledData
		err := unmarshalData(e, &d)
		return mustJSON(map[string]any{"metadata": map[string]any{"labels": d.Labels}}), err
	case Bound:
		var d BoundData
		err := unmarshalData(e, &d)
		return mustJSON(map[string]any{"spec": map[string]any{"nodeName": d.NodeName}}), err
	case Terminating:
		var d TerminatingData
		err := unmarshalData(e, &d)
		return mustJSON(map[string]any{"metadata": map[string]any{"deletionTimestamp": d.DeletionTimestamp, "deletionGracePeriodSeconds": d.GracePeriodSeconds}}), err
	case StatusChanged:
		var d StatusData
		return d.Status, unmarshalData(e, &d)
	}
	return nil, fmt.Errorf("aggregates: unknown event verb %q", e.Verb)
}

func unmarshalData(e Event, v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("aggregates: %s event data: %w", e.Verb, err)
	}
	return nil
}

// setStatus replaces the top-level "status" of obj.
func setStatus(obj []byte, status json.RawMessage) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := stored.Unmarshal(obj, &m); err != nil {
		return nil, fmt.Errorf("aggregates: object: %w", err)
	}
	if len(status) == 0 || string(status) == "null" {
		delete(m, "status")
	} else {
		m["status"] = status
	}
	return marshalRaw(m), nil
}

// WithResourceVersion returns obj with metadata.resourceVersion set to the
// stream sequence seq, as a reader shows it. Objects as Apply leaves them
// have no resourceVersion, so it is spliced in after the top-level
// "metadata":{ (the first one: top-level keys come before nested ones in
// every encoding Gantry writes, and a quote inside a string is escaped);
// anything else takes the general path.
func WithResourceVersion(obj []byte, seq uint64) ([]byte, error) {
	const open = `"metadata":{`
	i := bytes.Index(obj, []byte(open))
	if i > 0 && !bytes.Contains(obj, []byte(`"resourceVersion"`)) {
		at := i + len(open)
		out := make([]byte, 0, len(obj)+32)
		out = append(out, obj[:at]...)
		out = fmt.Appendf(out, `"resourceVersion":"%d"`, seq)
		if obj[at] != '}' {
			out = append(out, ',')
		}
		return append(out, obj[at:]...), nil
	}
	patch := fmt.Appendf(nil, `{"metadata":{"resourceVersion":"%d"}}`, seq)
	return jsonpatch.MergePatch(obj, patch)
}
