package bus

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
	"time"
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
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return w, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return w, false // no attributes: the general path words the error
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return w, false
		}
		end, ok := plainStringEnd(b, i)
		if !ok {
			return w, false
		}
		key := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return w, false
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return w, false
		}
		attr := attrIndex(key)
		switch {
		case attr >= 0:
			if b[i] != '"' {
				return w, false
			}
			if end, ok = plainStringEnd(b, i); !ok {
				return w, false
			}
			w.attrs[attr] = [2]int{i + 1, end - 1}
		case string(key) == "time":
			if b[i] != '"' {
				return w, false
			}
			if end, ok = plainStringEnd(b, i); !ok {
				return w, false
			}
			timeTok = b[i:end]
		case string(key) == "data":
			if b[i] == 'n' {
				return w, false
			}
			if end, ok = valueEnd(b, i); !ok {
				return w, false
			}
			w.data = b[i:end:end]
		default:
			if hasUpperOrNonASCII(key) || string(key) == "data_base64" {
				return w, false // jsoniter matches keys whatever their case
			}
			if end, ok = valueEnd(b, i); !ok {
				return w, false
			}
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return w, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
			continue
		case '}':
			if skipWS(b, i+1) != len(b) {
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

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// plainStringEnd is the end (past the closing quote) of the string at
// b[i]; false if it has an escape or a control character.
func plainStringEnd(b []byte, i int) (int, bool) {
	j := i + 1 + specialAt(b[i+1:])
	if j < len(b) && b[j] == '"' {
		return j + 1, true
	}
	return 0, false
}

// stringEnd is the end of the string at b[i], escapes allowed; false for
// a control character (which the jsoniter decoder refuses too).
func stringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		j += specialAt(b[j:])
		if j >= len(b) {
			break
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\':
			if j+1 >= len(b) {
				return 0, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+6 > len(b) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
					return 0, false
				}
				j += 5
			default:
				return 0, false
			}
		case c < 0x20:
			return 0, false
		}
	}
	return 0, false
}

// valueEnd is the end of the valid JSON value at b[i]; false if there is
// none (the jsoniter decoder checks the structure of what it skips too).
func valueEnd(b []byte, i int) (int, bool) { return skipJSON(b, i, 0) }

// maxDepth bounds the nesting skipJSON follows (deeper: the general path).
const maxDepth = 256

// skipJSON returns the end of the JSON value starting at b[i], checking
// its grammar.
func skipJSON(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxDepth {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		return stringEnd(b, i)
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			if closer == '}' {
				if i >= len(b) || b[i] != '"' {
					return 0, false
				}
				end, ok := stringEnd(b, i)
				if !ok {
					return 0, false
				}
				if i = skipWS(b, end); i >= len(b) || b[i] != ':' {
					return 0, false
				}
				i = skipWS(b, i+1)
			}
			end, ok := skipJSON(b, i, depth+1)
			if !ok {
				return 0, false
			}
			if i = skipWS(b, end); i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
			case closer:
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == 't':
		return literalEnd(b, i, "true")
	case c == 'f':
		return literalEnd(b, i, "false")
	case c == 'n':
		return literalEnd(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return numberEnd(b, i)
	}
	return 0, false
}

func literalEnd(b []byte, i int, lit string) (int, bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return 0, false
}

// numberEnd checks the JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(b []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i, i > start
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i, _ = digits(i)
	default:
		return 0, false
	}
	var ok bool
	if i < len(b) && b[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return 0, false
		}
	}
	return i, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// specialAt is the index of the first byte of b that is '"', '\\' or a
// control character (len(b) if none), eight bytes at a time.
func specialAt(b []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, s := x^(lo*'"'), x^(lo*'\\')
		// A byte of m has its top bit set at the first byte that is zero
		// in q or s, or below 0x20 in x (later ones may be false hits).
		if m := ((q - lo) &^ q) | ((s - lo) &^ s) | ((x - lo*0x20) &^ x); m&hi != 0 {
			return i + bits.TrailingZeros64(m&hi)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return len(b)
}
