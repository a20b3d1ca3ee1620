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
	var e Envelope
	e.Time = w.time
	// One allocation for every attribute: they live as long as the envelope.
	size := 0
	for a := attrID; a < wireAttrs; a++ {
		size += w.attrs[a][1] - w.attrs[a][0]
	}
	var sb strings.Builder
	sb.Grow(size)
	for a := attrID; a < wireAttrs; a++ {
		sb.Write(w.attr(b, a))
	}
	all, at := sb.String(), 0
	next := func(a int) string {
		n := w.attrs[a][1] - w.attrs[a][0]
		at += n
		return all[at-n : at]
	}
	e.ID, e.Source, e.Type, e.Subject = next(attrID), next(attrSource), next(attrType), next(attrSubject)
	next(attrDataContentType)
	e.Actor, e.CausationID, e.CorrelationID, e.Reason = next(attrActor), next(attrCausationID), next(attrCorrelationID), next(attrReason)
	if w.data != nil {
		e.Data = bytes.Clone(w.data)
	}
	return e, true
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
	return Envelope{Type: string(w.attr(b, attrType)), Data: w.data}, nil
}

// ownWire is where scanOwn found the members of an envelope.
type ownWire struct {
	attrs [wireAttrs][2]int // start and end in b of each string attribute
	time  time.Time
	data  []byte
}

func (w *ownWire) attr(b []byte, a int) []byte { return b[w.attrs[a][0]:w.attrs[a][1]] }

// scanOwn splits an envelope for unmarshalOwn and unmarshalLean, and
// checks what UnmarshalEnvelope checks.
func scanOwn(b []byte) (ownWire, bool) {
	var w ownWire
	var timeTok []byte
	i := jsonscan.Space(b, 0)
	if i >= len(b) || b[i] != '{' {
		return w, false
	}
	i = jsonscan.Space(b, i+1)
	if i < len(b) && b[i] == '}' {
		return w, false // no attributes: the general path words the error
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return w, false
		}
		end, ok := plainString(b, i)
		if !ok {
			return w, false
		}
		key := b[i+1 : end-1]
		i = jsonscan.Space(b, end)
		if i >= len(b) || b[i] != ':' {
			return w, false
		}
		i = jsonscan.Space(b, i+1)
		if i >= len(b) {
			return w, false
		}
		attr := attrIndex(key)
		switch {
		case attr >= 0:
			if b[i] != '"' {
				return w, false
			}
			if end, ok = plainString(b, i); !ok {
				return w, false
			}
			w.attrs[attr] = [2]int{i + 1, end - 1}
		case string(key) == "time":
			if b[i] != '"' {
				return w, false
			}
			if end, ok = plainString(b, i); !ok {
				return w, false
			}
			timeTok = b[i:end]
		case string(key) == "data":
			if b[i] == 'n' {
				return w, false
			}
			if end, ok = jsonscan.Value(b, i); !ok {
				return w, false
			}
			w.data = b[i:end:end]
		default:
			if hasUpperOrNonASCII(key) || string(key) == "data_base64" {
				return w, false // jsoniter matches keys whatever their case
			}
			if end, ok = jsonscan.Value(b, i); !ok {
				return w, false
			}
		}
		i = jsonscan.Space(b, end)
		if i >= len(b) {
			return w, false
		}
		switch b[i] {
		case ',':
			i = jsonscan.Space(b, i+1)
			continue
		case '}':
			if jsonscan.Space(b, i+1) != len(b) {
				return w, false
			}
		default:
			return w, false
		}
		break
	}
	if string(w.attr(b, attrSpecVersion)) != "1.0" || len(w.attr(b, attrID)) == 0 || len(w.attr(b, attrSource)) == 0 || len(w.attr(b, attrType)) == 0 {
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

// plainString is the end (past the closing quote) of the string at b[i];
// false if it has an escape or a control character.
func plainString(b []byte, i int) (int, bool) {
	end, plain, ok := jsonscan.String(b, i)
	return end, ok && plain
}
