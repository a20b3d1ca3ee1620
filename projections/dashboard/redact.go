package dashboard

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
)

// lastApplied may hold a whole manifest, Secret values included.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// hideSecret replaces a Secret's values with their byte counts: the keys
// stay, so people see what a Secret holds without seeing it. stringData,
// sealed data and a last-applied annotation go. Anything unreadable is
// dropped rather than shown.
func hideSecret(doc []byte) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return []byte(`{}`)
	}
	for _, field := range []string{"data", "stringData", "binaryData"} {
		if raw, ok := m[field]; ok {
			m[field] = hiddenValues(raw, field == "stringData")
		}
	}
	if _, ok := m["sealedData"]; ok {
		delete(m, "sealedData")
		m["data"] = json.RawMessage(`"(sealed)"`)
	}
	if meta, ok := m["metadata"]; ok {
		m["metadata"] = withoutAnnotation(meta, lastApplied)
	}
	out, _ := json.Marshal(m)
	return out
}

// hiddenValues maps each key to "(hidden, N bytes)"; a null (a key a
// patch removes) stays null.
func hiddenValues(raw json.RawMessage, plain bool) json.RawMessage {
	var values map[string]*string
	if err := json.Unmarshal(raw, &values); err != nil {
		return json.RawMessage(`"(hidden)"`)
	}
	out := make(map[string]*string, len(values))
	for k, v := range values {
		if v == nil {
			out[k] = nil
			continue
		}
		n := len(*v)
		if !plain {
			if b, err := base64.StdEncoding.DecodeString(*v); err == nil {
				n = len(b)
			}
		}
		s := fmt.Sprintf("(hidden, %d bytes)", n)
		out[k] = &s
	}
	b, _ := json.Marshal(out)
	return b
}

func withoutAnnotation(meta json.RawMessage, name string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(meta, &m) != nil {
		return meta
	}
	var ann map[string]json.RawMessage
	if json.Unmarshal(m["annotations"], &ann) != nil {
		return meta
	}
	if _, ok := ann[name]; !ok {
		return meta
	}
	ann[name] = json.RawMessage(`"(hidden)"`)
	m["annotations"], _ = json.Marshal(ann)
	out, _ := json.Marshal(m)
	return out
}

// hideSecretEvent hides the values a Secret's event carries: the object
// of a created event, the patch of an updated one. The data is opened
// first (when a sealer is at hand) so the keys show.
func hideSecretEvent(sealer *seal.Sealer, verb string, data []byte) []byte {
	if sealer != nil {
		if opened, err := sealer.OpenEvent(verb, data); err == nil {
			data = opened
		}
	}
	switch verb {
	case aggregates.Created:
		return hideSecret(data)
	case aggregates.Updated:
		var u aggregates.UpdatedData
		if err := json.Unmarshal(data, &u); err != nil {
			return []byte(`{}`)
		}
		out, _ := json.Marshal(aggregates.UpdatedData{Patch: hideSecret(u.Patch)})
		return out
	}
	if len(data) == 0 {
		return data
	}
	return hideSecret(data) // no other event carries values; hide any that would
}
