package aggregates

import (
	"encoding/json"
	"fmt"
	"sort"

	jsoniter "github.com/json-iterator/go"
)

// applyShallow applies the events that change a field or two (scaled,
// labeled, bound, terminating) by editing only the members on the path to
// them: the rest of the object stays undecoded bytes. It reports false for
// events it does not handle.
func applyShallow(obj []byte, e Event) ([]byte, bool, error) {
	var edits []edit
	switch e.Verb {
	case Scaled:
		var d ScaledData
		if err := unmarshalData(e, &d); err != nil {
			return nil, true, err
		}
		edits = []edit{{[]string{"spec", "replicas"}, mustJSON(d.Replicas)}, {[]string{"metadata", "generation"}, mustJSON(d.Generation)}}
	case Bound:
		var d BoundData
		if err := unmarshalData(e, &d); err != nil {
			return nil, true, err
		}
		edits = []edit{{[]string{"spec", "nodeName"}, mustJSON(d.NodeName)}}
	case Terminating:
		var d TerminatingData
		if err := unmarshalData(e, &d); err != nil {
			return nil, true, err
		}
		edits = []edit{{[]string{"metadata", "deletionTimestamp"}, mustJSON(d.DeletionTimestamp)}, {[]string{"metadata", "deletionGracePeriodSeconds"}, mustJSON(d.GracePeriodSeconds)}}
	case Labeled:
		var d LabeledData
		if err := unmarshalData(e, &d); err != nil {
			return nil, true, err
		}
		for k, v := range d.Labels {
			var val json.RawMessage // nil removes
			if v != nil {
				val = mustJSON(*v)
			}
			edits = append(edits, edit{[]string{"metadata", "labels", k}, val})
		}
	default:
		return nil, false, nil
	}
	out := obj
	for _, ed := range edits {
		var err error
		if out, err = setPath(out, ed.path, ed.value); err != nil {
			return nil, true, fmt.Errorf("aggregates: apply %s: %w", e.Verb, err)
		}
	}
	return out, true, nil
}

type edit struct {
	path  []string
	value json.RawMessage // nil: remove the member
}

// setPath sets (or, for a nil value, removes) the member at path, decoding
// only the objects along it. Missing objects on the way are created; an
// object left empty by a removal is dropped, as a merge patch does.
func setPath(doc []byte, path []string, value json.RawMessage) ([]byte, error) {
	m := map[string]json.RawMessage{}
	if len(doc) > 0 && string(doc) != "null" {
		if err := stored.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
	}
	if len(path) == 1 {
		if value == nil {
			delete(m, path[0])
		} else {
			m[path[0]] = value
		}
		return marshalRaw(m), nil
	}
	child, err := setPath(m[path[0]], path[1:], value)
	if err != nil {
		return nil, err
	}
	if string(child) == "{}" {
		delete(m, path[0])
	} else {
		m[path[0]] = child
	}
	return marshalRaw(m), nil
}

// stored decodes objects Gantry itself stored (events it appended, the
// objects Apply made): jsoniter in encoding/json's dialect, several times
// faster at splitting an object into raw members, which every fold of a
// scale, label or status event does.
var stored = withStringMaps(jsoniter.Config{EscapeHTML: true, SortMapKeys: true, ValidateJsonRawMessage: true}.Froze())

// Unmarshal decodes what Gantry itself wrote — stored objects, event
// data, projected values — into v as encoding/json would
// (TestUnmarshalMatchesEncodingJSON), three to four times faster: the
// scheduler, the agents and the status command decode a pod on every
// event. Input from elsewhere goes through DecodeManifest.
func Unmarshal(data []byte, v any) error { return stored.Unmarshal(data, v) }

// marshalRaw writes an object of raw members, keys sorted as
// encoding/json sorts them, without re-validating and compacting each
// member as encoding/json does (the members came from a decoder, so they
// are valid JSON already).
func marshalRaw(m map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(m))
	size := 2
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	sort.Strings(keys)
	out := make([]byte, 0, size)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		key, _ := json.Marshal(k)
		out = append(out, key...)
		out = append(out, ':')
		if v := m[k]; len(v) > 0 {
			out = append(out, v...)
		} else {
			out = append(out, "null"...) // a null member decodes as an empty RawMessage
		}
	}
	return append(out, '}')
}
