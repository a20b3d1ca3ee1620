// Package jsonscan checks and splits JSON text (RFC 8259) by its grammar
// without decoding it. Gantry's fast decoding paths — the event envelope,
// a command's members, the schema validator's document, Apply's in-place
// edits of stored objects — use it to find where values end and whether a
// string needs unescaping, and hand anything unusual to a full decoder.
//
// Every function takes the text and the index where a token starts, and
// returns the index just past it, with ok false when the text there is not
// valid JSON (or nests deeper than MaxDepth).
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"unsafe"
)

// lo and hi are a byte's low and high bit in each byte of a word, for
// looking at eight bytes of a string at a time: (x-lo*n)&^x&hi flags a
// byte under n (exactly the first one; a later flag can come of its
// borrow), x^(lo*c) turns the bytes equal to c to zero for that test, and
// x&hi flags a byte of 0x80 or over.
const lo, hi = 0x0101010101010101, 0x8080808080808080

// MaxDepth bounds the nesting Value follows; callers take their general
// path for anything deeper.
const MaxDepth = 256

// Space returns the index of the first byte at or after i that is not
// JSON white space.
func Space(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// Valid reports whether b is one JSON value (white space around it
// allowed) nesting at most MaxDepth deep: json.Valid, but for the depth.
func Valid(b []byte) bool {
	end, ok := Value(b, Space(b, 0))
	return ok && Space(b, end) == len(b)
}

// Value returns the end of the JSON value starting at b[i], checking it
// is valid.
func Value(b []byte, i int) (end int, ok bool) { return value(b, i, 0) }

// ValueAt is Value for a value nested depth deep in what its caller reads,
// so that the whole nests at most MaxDepth deep.
func ValueAt(b []byte, i, depth int) (end int, ok bool) { return value(b, i, depth) }

func value(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > MaxDepth {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := String(b, i)
		return end, ok
	case c == '{':
		return container(b, i, depth, '}')
	case c == '[':
		return container(b, i, depth, ']')
	case c == 't':
		return Literal(b, i, "true")
	case c == 'f':
		return Literal(b, i, "false")
	case c == 'n':
		return Literal(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return Number(b, i)
	}
	return 0, false
}

// Object reads b as one JSON object (white space around it allowed,
// nothing else) and calls member for each of its members in order, with
// the key's bytes between its quotes, whether the key is plain (String),
// and the value's bytes, checked valid. It stops as soon as member returns
// false; ok is false then, and when b is not one valid object.
func Object(b []byte, member func(key []byte, plainKey bool, value []byte) bool) (ok bool) {
	i := Space(b, 0)
	end, ok := Members(b, i, func(key []byte, plain bool, at int) (int, bool) {
		end, ok := Value(b, at)
		return end, ok && member(key, plain, b[at:end:end])
	})
	return ok && Space(b, end) == len(b)
}

// Members reads the object that starts at b[i] and calls read for each of
// its members in order, with the key's bytes between its quotes, whether
// the key is plain (String), and where its value starts; read reads the
// value (checking it, as it must) and returns where it ends, or ok false
// to stop. Members returns where the object ends. A caller that wants
// something inside a value reads it there, once, instead of having Object
// check it first.
func Members(b []byte, i int, read func(key []byte, plainKey bool, at int) (end int, ok bool)) (end int, ok bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	if i = Space(b, i+1); i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		end, plain, ok := String(b, i)
		if !ok {
			return 0, false
		}
		key := b[i+1 : end-1]
		if i = Space(b, end); i >= len(b) || b[i] != ':' {
			return 0, false
		}
		if end, ok = read(key, plain, Space(b, i+1)); !ok {
			return 0, false
		}
		var more bool
		if i, more, ok = After(b, end, '}'); !ok || !more {
			return i, ok
		}
	}
}

// Array reads b as one JSON array (white space around it allowed, nothing
// else) and calls elem for each of its elements in order, checked valid.
// It stops as soon as elem returns false; ok is false then, and when b is
// not one valid array.
func Array(b []byte, elem func(value []byte) bool) (ok bool) {
	i := Space(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	if i = Space(b, i+1); i < len(b) && b[i] == ']' {
		return Space(b, i+1) == len(b)
	}
	for {
		end, ok := Value(b, i)
		if !ok || !elem(b[i:end:end]) {
			return false
		}
		var more bool
		if i, more, ok = After(b, end, ']'); !ok || !more {
			return ok && Space(b, i) == len(b)
		}
	}
}

// After reads what follows a member or an element that ends at end: a
// comma, and more follow from i, or closer, and the container ends before
// i.
func After(b []byte, end int, closer byte) (i int, more, ok bool) {
	if i = Space(b, end); i < len(b) && b[i] == ',' {
		return Space(b, i+1), true, true
	}
	return i + 1, false, i < len(b) && b[i] == closer
}

// Literal matches lit (true, false, null) at b[i].
func Literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return 0, false
}

// container skips an object or an array starting at b[i].
func container(b []byte, i, depth int, closer byte) (int, bool) {
	i = Space(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, true
	}
	for {
		if closer == '}' {
			if i >= len(b) || b[i] != '"' {
				return 0, false
			}
			end, _, ok := String(b, i)
			if !ok {
				return 0, false
			}
			if i = Space(b, end); i >= len(b) || b[i] != ':' {
				return 0, false
			}
			i = Space(b, i+1)
		}
		end, ok := value(b, i, depth+1)
		if !ok {
			return 0, false
		}
		// after's steps, inline: every value nested in a container passes here
		if i = Space(b, end); i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = Space(b, i+1)
		case closer:
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// String returns the end of the string token at b[i] (past its closing
// quote) and whether it is plain: free of escapes, so that its bytes
// between the quotes are its value. It looks at eight bytes at a time
// for the first byte that ends a run of plain ones (a quote, a backslash,
// a control character): strings are most of what the scanners read.
func String(b []byte, i int) (end int, plain, ok bool) {
	plain = true
	j := i + 1
	for {
		// Eight bytes at a time to the first quote, backslash or control
		// character (the mask may also flag later bytes; the first is right).
		for words := 0; j+8 <= len(b); words++ {
			if words == 4 { // a long run: leave it to the vector search
				return longString(b, j, plain)
			}
			x := binary.LittleEndian.Uint64(b[j:])
			q, s := x^(lo*'"'), x^(lo*'\\')
			if m := ((q - lo) &^ q) | ((s - lo) &^ s) | ((x - lo*0x20) &^ x); m&hi != 0 {
				j += bits.TrailingZeros64(m&hi) / 8
				break
			}
			j += 8
		}
		for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
			j++
		}
		if j >= len(b) {
			return 0, false, false
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, plain, true
		case c < 0x20:
			return 0, false, false
		}
		// A backslash.
		plain = false
		if j, ok = escape(b, j); !ok {
			return 0, false, false
		}
	}
}

// longString is String from b[j] on, in a string already known to run
// long (a ConfigMap's value, a script): bytes.IndexByte, which compares a
// vector register's width at a time, finds the next quote, then the
// backslashes before it; only the bytes in between are looked at for
// control characters, eight at a time. Each byte is looked at a bounded
// number of times, however many escapes there are.
func longString(b []byte, j int, plain bool) (end int, _, ok bool) {
	for {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return 0, false, false
		}
		stop := j + q // the quote that ends the string, unless escaped
		for j <= stop {
			bs := bytes.IndexByte(b[j:stop], '\\')
			if bs < 0 {
				if control(b[j:stop]) {
					return 0, false, false
				}
				return stop + 1, plain, true
			}
			if control(b[j : j+bs]) {
				return 0, false, false
			}
			plain = false
			if j, ok = escape(b, j+bs); !ok {
				return 0, false, false
			}
		}
		// The escape took the quote (\"): on to the next one.
	}
}

// escape checks the escape at b[j] (a backslash) and returns its end.
func escape(b []byte, j int) (int, bool) {
	if j+1 >= len(b) {
		return 0, false
	}
	switch b[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return j + 2, true
	case 'u':
		if j+6 > len(b) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
			return 0, false
		}
		return j + 6, true
	}
	return 0, false
}

// control reports whether s holds a control character (below 0x20),
// looking at 32 bytes at a time.
func control(s []byte) bool {
	i := 0
	for ; i+32 <= len(s); i += 32 {
		w := s[i : i+32]
		x0, x1 := binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
		x2, x3 := binary.LittleEndian.Uint64(w[16:]), binary.LittleEndian.Uint64(w[24:])
		if ((x0-lo*0x20)&^x0|(x1-lo*0x20)&^x1|(x2-lo*0x20)&^x2|(x3-lo*0x20)&^x3)&hi != 0 {
			return true
		}
	}
	for ; i+8 <= len(s); i += 8 {
		if x := binary.LittleEndian.Uint64(s[i:]); (x-lo*0x20)&^x&hi != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Number checks the JSON number grammar at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func Number(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// ASCII reports whether b holds only ASCII bytes: a plain string of them
// is its own value, with no UTF-8 to check or replace.
func ASCII(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 { // eight bytes at a time: strings are long
		if binary.LittleEndian.Uint64(b[i:])&hi != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Verbatim reports whether encoding/json writes s as it is between quotes:
// ASCII without control characters, quotes, backslashes or the HTML
// characters it escapes (<, >, &). Then a writer may splice s in itself.
func Verbatim[T string | []byte](s T) bool {
	var b []byte
	switch v := any(s).(type) {
	case string:
		b = unsafe.Slice(unsafe.StringData(v), len(v)) // read only
	case []byte:
		b = v
	}
	i := 0
	for ; i+8 <= len(b); i += 8 { // eight bytes at a time: values run long
		x := binary.LittleEndian.Uint64(b[i:])
		// Flags a byte of 0x80 or over, under 0x20 or 0x7f, and one of "&
		// (0x22 and 0x26 are one bit apart), <> (0x3c, 0x3e) or \; a flag
		// can be wrong only after a right one in the same word.
		q, a, s := (x|lo*0x04)^lo*'&', (x|lo*0x02)^lo*'>', x^lo*'\\'
		if (x|(x-lo*0x20)|(x+lo)|((q-lo)&^q)|((a-lo)&^a)|((s-lo)&^s))&hi != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// ASCIIString reports whether tok is a string token of ASCII without
// escapes: the bytes between its quotes are its value, as any JSON decoder
// reads it.
func ASCIIString(tok []byte) bool {
	if len(tok) == 0 || tok[0] != '"' {
		return false
	}
	end, plain, ok := String(tok, 0)
	return ok && plain && end == len(tok) && ASCII(tok)
}

// Int reads a number token as encoding/json reads it into an int of the
// given bits: a plain integer literal in range; ok false for anything else
// (a fraction or exponent, out of range), which only the decoder can say.
func Int(tok []byte, bits int) (int64, bool) {
	for i, c := range tok {
		if !(c >= '0' && c <= '9' || c == '-' && i == 0) {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(tok), 10, bits)
	if err != nil {
		return 0, false
	}
	return n, true
}

// Uint is Int for a uint64.
func Uint(tok []byte) (uint64, bool) {
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(tok), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// AppendMember appends the key of an object's member, plain (Verbatim),
// after out, which ends in the object's "{" or in a member before it.
func AppendMember(out []byte, name string) []byte {
	if out[len(out)-1] != '{' {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, name...)
	return append(out, '"', ':')
}
