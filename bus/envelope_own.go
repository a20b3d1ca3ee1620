package bus

import (
	"bytes"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// unmarshalOwn is UnmarshalEnvelope's fast path, for envelopes as Marshal
// writes them: a flat object of plain strings and the data. It splits the
// object itself, copies every string attribute into one allocation and the
// data into another, and declines (ok false: the jsoniter decoder runs)
// on anything else: escapes or control characters in a string, a key that
// is not one of the attributes but equals one but for case, an attribute
// that is not a string, null or base64 data, a value that is not valid
// JSON, broken structure. TestUnmarshalOwnMatchesGeneral checks it
// against the jsoniter decoder.
func unmarshalOwn(b []byte) (Envelope, bool) {
	w, ok := scanOwn(b)
	if !ok {
		return Envelope{}, false
	}
	return w.envelope(false), true
}

// envelope copies what scanOwn found out of the bytes it scanned, the
// data too unless shareData.
func (w *ownWire) envelope(shareData bool) Envelope {
	var e Envelope
	e.Time = w.time
	// One allocation for every attribute: they live as long as the envelope.
	size := 0
	for a := attrID; a < wireAttrs; a++ {
		size += len(w.attrs[a])
	}
	var sb strings.Builder
	sb.Grow(size)
	for a := attrID; a < wireAttrs; a++ {
		sb.Write(w.attrs[a])
	}
	all, at := sb.String(), 0
	next := func(a int) string {
		n := len(w.attrs[a])
		at += n
		return all[at-n : at]
	}
	e.ID, e.Source, e.Type, e.Subject = next(attrID), next(attrSource), next(attrType), next(attrSubject)
	next(attrDataContentType)
	e.Actor, e.CausationID, e.CorrelationID, e.Reason = next(attrActor), next(attrCausationID), next(attrCorrelationID), next(attrReason)
	switch {
	case w.data != nil && shareData:
		e.Data = w.data
	case w.data != nil:
		e.Data = bytes.Clone(w.data)
	}
	return e
}

// decodeStructuredOwn is decodeStructured's fast path: what scanOwn takes
// (a flat object of plain strings and JSON data, specversion 1.0, id,
// source and type present) is read as encoding/json reads it, then given
// decodeStructured's remaining checks. ok false: it declined.
func decodeStructuredOwn(b []byte) (e Envelope, ok bool, err error) {
	w, ok := scanOwn(b)
	if !ok {
		return Envelope{}, false, nil
	}
	if err := checkStructured(string(w.attrs[attrSource]), string(w.attrs[attrDataContentType])); err != nil {
		return Envelope{}, true, err
	}
	return w.envelope(true), true, nil
}

// unmarshalLean is what a replay for folding needs of an envelope: Type
// and Data only, Data sharing b's memory. It takes exactly what
// unmarshalOwn takes and reads them the same way; otherwise it decodes
// the whole envelope (copies included) with UnmarshalEnvelope.
func unmarshalLean(b []byte) (Envelope, error) {
	w, ok := scanOwn(b)
	if !ok {
		return UnmarshalEnvelope(b)
	}
	return Envelope{Type: string(w.attrs[attrType]), Data: w.data}, nil
}

// ownWire is where scanOwn found the members of an envelope.
type ownWire struct {
	attrs [wireAttrs][]byte // each string attribute's bytes (between its quotes), in b
	time  time.Time
	data  []byte
}

// scanOwn splits an envelope for unmarshalOwn and unmarshalLean, and
// checks what UnmarshalEnvelope checks.
func scanOwn(b []byte) (ownWire, bool) {
	var w ownWire
	var timeTok []byte
	ok := jsonscan.Object(b, func(key []byte, plainKey bool, v []byte) bool {
		if !plainKey {
			return false
		}
		switch attr := attrIndex(key); {
		case attr >= 0:
			if !plainString(v) {
				return false
			}
			w.attrs[attr] = v[1 : len(v)-1]
		case string(key) == "time":
			if !plainString(v) {
				return false
			}
			timeTok = v
		case string(key) == "data":
			if v[0] == 'n' {
				return false
			}
			w.data = v
		case hasUpperOrNonASCII(key) || string(key) == "data_base64":
			return false // jsoniter matches keys whatever their case
		}
		return true
	})
	if !ok || string(w.attrs[attrSpecVersion]) != "1.0" || len(w.attrs[attrID]) == 0 || len(w.attrs[attrSource]) == 0 || len(w.attrs[attrType]) == 0 {
		return w, false
	}
	if timeTok != nil {
		if err := w.time.UnmarshalJSON(timeTok); err != nil {
			return w, false
		}
	}
	return w, true
}

// The string attributes of the wire form, in the order they are packed.
const (
	attrSpecVersion = iota
	attrID
	attrSource
	attrType
	attrSubject
	attrDataContentType
	attrActor
	attrCausationID
	attrCorrelationID
	attrReason
	wireAttrs
)

func attrIndex(key []byte) int {
	switch string(key) {
	case "specversion":
		return attrSpecVersion
	case "id":
		return attrID
	case "source":
		return attrSource
	case "type":
		return attrType
	case "subject":
		return attrSubject
	case "datacontenttype":
		return attrDataContentType
	case "actor":
		return attrActor
	case "causationid":
		return attrCausationID
	case "correlationid":
		return attrCorrelationID
	case "reason":
		return attrReason
	}
	return -1
}

func hasUpperOrNonASCII(key []byte) bool {
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return true
		}
	}
	return false
}

// plainString reports whether the value v is a string without escapes
// (its bytes between the quotes are its value).
func plainString(v []byte) bool {
	if len(v) == 0 || v[0] != '"' {
		return false
	}
	_, plain, ok := jsonscan.String(v, 0)
	return ok && plain
}
