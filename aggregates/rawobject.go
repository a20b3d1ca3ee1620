package aggregates

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// The fast path of Apply for the events a projection folds most (scaled,
// labeled, bound, status-changed). It reads the event data and splits the
// objects along the edited path with a scanner of its own, allocation-free
// and validating, instead of decoding them into maps, and writes exactly
// the bytes the general path (applyShallow's setPath, setStatus: jsoniter
// into map[string]json.RawMessage, then marshalRaw) writes. Whenever the
// input is anything but the plain case that makes that certain, it
// declines and the general path runs: invalid JSON, a key with escapes or
// characters encoding/json escapes, a duplicate key, a null member, an
// event field named in another case, a number that is not a plain integer.
// TestFastApplyMatchesGeneral checks it against the general path.

// member is one member of a JSON object as written: its key (the bytes
// between the quotes) and its value.
type member struct {
	key, value []byte
	plainKey   bool // the key has no escapes and nothing encoding/json would escape
}

// fastEdit sets (value non-nil) or removes (nil) the member at path.
type fastEdit struct {
	path  [3]string
	depth int // elements of path in use
	value []byte
}

// applyFast applies e to obj if the fast path can, appending the result
// to dst; ok false: it declined.
func applyFast(dst, obj []byte, e Event) (out []byte, ok bool) {
	var buf [8]fastEdit
	edits, ok := eventEdits(e, buf[:0])
	if !ok {
		return nil, false
	}
	if len(edits) == 0 {
		return append(dst, obj...), true // as applyShallow: nothing to set leaves the object as it is
	}
	if !isObject(obj) {
		return nil, false
	}
	sortEdits(edits)
	return editObject(dst, obj, edits, 0)
}

// eventEdits appends the edits e stands for; false: the fast path does not
// take e (its verb, or anything in its data).
func eventEdits(e Event, edits []fastEdit) ([]fastEdit, bool) {
	switch e.Verb {
	case Scaled:
		return scaledEdits(e.Data, edits)
	case Labeled:
		return labeledEdits(e.Data, edits)
	case Bound:
		return boundEdits(e.Data, edits)
	case StatusChanged:
		return statusEdits(e.Data, edits)
	}
	return nil, false
}

// Edits are the fast path's edits of a run of events on one object,
// merged: a path set again keeps the last value, as applying the events
// one after another would. Folding a stream, an object's run of scaled,
// labeled, bound and status events is applied in one pass at the end
// (projections' deferred fold) instead of splitting and writing the whole
// object once per event.
type Edits struct {
	list []fastEdit
}

// Add merges e's edits, copying the values it keeps (e.Data may be reused
// once Add returns); false: the fast path does not take e, and x is as it
// was.
func (x *Edits) Add(e Event) bool {
	var buf [8]fastEdit
	edits, ok := eventEdits(e, buf[:0])
	if !ok {
		return false
	}
	for _, ed := range edits {
		if ed.value != nil {
			ed.value = bytes.Clone(ed.value)
		}
		if i := slices.IndexFunc(x.list, func(o fastEdit) bool { return o.depth == ed.depth && o.path == ed.path }); i >= 0 {
			x.list[i].value = ed.value
		} else {
			x.list = append(x.list, ed)
		}
	}
	return true
}

// AppendTo applies the merged edits to obj, appending the result to dst:
// the bytes AppendApply writes applying the events one after another,
// when obj is Editable. ok false: the fast path declined (obj was not).
func (x *Edits) AppendTo(dst, obj []byte) ([]byte, bool) {
	if len(x.list) == 0 {
		return append(dst, obj...), true
	}
	if !isObject(obj) {
		return nil, false
	}
	sortEdits(x.list) // merged paths are distinct: their order is the writer's
	return editObject(dst, obj, x.list, 0)
}

// probeEdits touch every object an edit of Edits may reach: the object,
// its metadata, metadata.labels and spec.
var probeEdits = []fastEdit{
	{path: [3]string{"metadata", "generation"}, depth: 2, value: []byte("0")},
	{path: [3]string{"metadata", "labels", "probe"}, depth: 3},
	{path: [3]string{"spec", "replicas"}, depth: 2, value: []byte("0")},
	{path: [3]string{"status"}, depth: 1},
}

// Editable: obj is an object the fast path edits along every path an
// Edits may hold (each object on them splits, with plain keys, no null
// member and no key twice), so Edits.AppendTo takes any merge of events on
// it, and the objects it writes are editable again.
func Editable(obj []byte) bool {
	if !isObject(obj) {
		return false
	}
	var buf [1024]byte
	_, ok := editObject(buf[:0], obj, probeEdits, 0)
	return ok
}

// isObject: obj starts (after white space) with '{'.
func isObject(obj []byte) bool {
	i := jsonscan.Space(obj, 0)
	return i < len(obj) && obj[i] == '{'
}

// dataFields splits event data into its members, declining anything
// encoding/json might read differently from the exact, lower-case names:
// a key with escapes, or a key that equals one of names but for case.
func dataFields(data []byte, ms []member, names ...string) ([]member, bool) {
	ms, ok := splitObject(data, ms)
	if !ok {
		return nil, false
	}
	for _, m := range ms {
		if !m.plainKey {
			return nil, false
		}
		for _, n := range names {
			if string(m.key) != n && bytes.EqualFold(m.key, []byte(n)) {
				return nil, false
			}
		}
	}
	return ms, true
}

// dataField is the value of the member named name in event data that
// should hold just that one (nil if absent), read as dataFields and
// memberValue read it.
func dataField(data []byte, name string) ([]byte, bool) {
	var buf [4]member
	ms, ok := dataFields(data, buf[:0], name)
	if !ok {
		return nil, false
	}
	return memberValue(ms, name)
}

// memberValue is the value of the member named name (nil if absent); a name
// given twice declines.
func memberValue(ms []member, name string) (value []byte, ok bool) {
	for _, m := range ms {
		if string(m.key) == name {
			if value != nil {
				return nil, false
			}
			value = m.value
		}
	}
	return value, true
}

func scaledEdits(data []byte, edits []fastEdit) ([]fastEdit, bool) {
	var buf [8]member
	ms, ok := dataFields(data, buf[:0], "replicas", "previous", "generation")
	if !ok {
		return nil, false
	}
	replicas, ok1 := intField(ms, "replicas", 32)
	_, ok2 := intField(ms, "previous", 32)
	generation, ok3 := intField(ms, "generation", 64)
	if !ok1 || !ok2 || !ok3 {
		return nil, false
	}
	return append(edits,
		fastEdit{path: [3]string{"spec", "replicas"}, depth: 2, value: strconv.AppendInt(nil, replicas, 10)},
		fastEdit{path: [3]string{"metadata", "generation"}, depth: 2, value: strconv.AppendInt(nil, generation, 10)}), true
}

// intField reads an integer member as encoding/json reads it into an intN
// (absent: 0); anything but a plain integer literal in range declines.
func intField(ms []member, name string, bits int) (int64, bool) {
	v, ok := memberValue(ms, name)
	if !ok {
		return 0, false
	}
	if v == nil {
		return 0, true
	}
	return jsonscan.Int(v, bits)
}

func labeledEdits(data []byte, edits []fastEdit) ([]fastEdit, bool) {
	labels, ok := dataField(data, "labels")
	if !ok || labels == nil || labels[0] != '{' {
		return nil, false // null or absent labels: the general path
	}
	var lbuf [8]member
	ls, ok := splitObject(labels, lbuf[:0])
	if !ok {
		return nil, false
	}
	for _, l := range ls {
		if !l.plainKey {
			return nil, false
		}
		var value []byte // null removes the label
		switch {
		case l.value[0] == '"' && plainString(l.value):
			value = l.value
		case string(l.value) != "null":
			return nil, false
		}
		edits = append(edits, fastEdit{path: [3]string{"metadata", "labels", string(l.key)}, depth: 3, value: value})
	}
	return edits, true
}

func boundEdits(data []byte, edits []fastEdit) ([]fastEdit, bool) {
	node, ok := dataField(data, "nodeName")
	if !ok || node == nil || node[0] != '"' || !plainString(node) {
		return nil, false
	}
	return append(edits, fastEdit{path: [3]string{"spec", "nodeName"}, depth: 2, value: node}), true
}

func statusEdits(data []byte, edits []fastEdit) ([]fastEdit, bool) {
	status, ok := dataField(data, "status")
	if !ok {
		return nil, false
	}
	if string(status) == "null" {
		status = nil // as setStatus: a null status removes it
	}
	return append(edits, fastEdit{path: [3]string{"status"}, depth: 1, value: status}), true
}

// plainString: tok is a string token whose bytes between the quotes are
// written back as they are, by encoding/json as by any decoder.
func plainString(tok []byte) bool {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return false
	}
	return jsonscan.Verbatim(tok[1 : len(tok)-1])
}

// sortEdits orders edits by path, keeping the order of equal paths (the
// last one wins, as when they are applied one after another).
func sortEdits(edits []fastEdit) {
	for i := 1; i < len(edits); i++ {
		for j := i; j > 0 && pathLess(&edits[j], &edits[j-1]); j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
}

func pathLess(a, b *fastEdit) bool {
	for i := 0; i < a.depth && i < b.depth; i++ {
		if a.path[i] != b.path[i] {
			return a.path[i] < b.path[i]
		}
	}
	return a.depth < b.depth
}

// editObject applies edits (sorted, all below the same object, which is
// doc) at level: as setPath does one after another, members on the path
// are set or removed, objects missing on the way are created, and an
// object left empty is dropped; every object on the path is written back
// with its keys sorted.
func editObject(dst, doc []byte, edits []fastEdit, level int) ([]byte, bool) {
	var buf [24]member
	ms := buf[:0]
	if doc != nil {
		var ok bool
		if ms, ok = splitObject(doc, ms); !ok {
			return nil, false
		}
		for _, m := range ms {
			if !m.plainKey || string(m.value) == "null" {
				return nil, false // the general path writes these its own way
			}
		}
		sortMembers(ms)
		for i := 1; i < len(ms); i++ {
			if bytes.Equal(ms[i].key, ms[i-1].key) {
				return nil, false
			}
		}
	}
	for i := 0; i < len(edits); {
		key := edits[i].path[level]
		j := i + 1
		for j < len(edits) && edits[j].path[level] == key {
			j++
		}
		group := edits[i:j]
		i = j
		leaf := group[0].depth == level+1
		for _, ed := range group {
			if (ed.depth == level+1) != leaf {
				return nil, false // a member set and edited inside: never asked for
			}
		}
		at, found := findMember(ms, key)
		var value []byte
		if leaf {
			value = group[len(group)-1].value
		} else {
			var child []byte
			if found {
				child = ms[at].value
				if child[0] != '{' {
					return nil, false
				}
			}
			out, ok := editObject(nil, child, group, level+1)
			if !ok {
				return nil, false
			}
			if string(out) != "{}" {
				value = out
			}
		}
		switch {
		case value == nil && found:
			ms = append(ms[:at], ms[at+1:]...)
		case value == nil:
		case found:
			ms[at].value = value
		default:
			ms = append(ms, member{})
			copy(ms[at+1:], ms[at:])
			ms[at] = member{key: []byte(key), value: value, plainKey: true}
		}
	}
	return writeObject(dst, ms), true
}

// findMember is where key is in ms (sorted), or where it would go.
func findMember(ms []member, key string) (int, bool) {
	for i, m := range ms {
		switch c := compareKey(m.key, key); {
		case c == 0:
			return i, true
		case c > 0:
			return i, false
		}
	}
	return len(ms), false
}

// compareKey is bytes.Compare of k and key, without converting key.
func compareKey(k []byte, key string) int {
	for i := 0; i < len(k) && i < len(key); i++ {
		if k[i] != key[i] {
			if k[i] < key[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(k) < len(key):
		return -1
	case len(k) > len(key):
		return 1
	}
	return 0
}

func sortMembers(ms []member) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && bytes.Compare(ms[j].key, ms[j-1].key) < 0; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// writeObject writes sorted members as marshalRaw does.
func writeObject(dst []byte, ms []member) []byte {
	size := 2
	for _, m := range ms {
		size += len(m.key) + len(m.value) + 4
	}
	out := slices.Grow(dst, size)
	out = append(out, '{')
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, m.key...)
		out = append(out, '"', ':')
		out = append(out, m.value...)
	}
	return append(out, '}')
}

// splitObject appends the members of the JSON object doc (white space
// around it allowed, nothing else) to ms; false if doc is not one valid
// JSON object.
func splitObject(doc []byte, ms []member) ([]member, bool) {
	ok := jsonscan.Object(doc, func(key []byte, plain bool, value []byte) bool {
		ms = append(ms, member{key: key, value: value, plainKey: plain && jsonscan.Verbatim(key)})
		return true
	})
	if !ok {
		return nil, false
	}
	return ms, true
}

// SpecNodeName reads a pod's spec.nodeName as encoding/json would decode
// it into a struct with just that field ("" when absent or null), without
// decoding the rest. ok false: it could not be sure (invalid JSON, escapes,
// keys differing only in case, duplicates, a non-string value): decode it.
func SpecNodeName(pod []byte) (node string, ok bool) {
	v, ok := memberAt(pod, "spec", "nodeName")
	switch {
	case !ok:
		return "", false
	case v == nil || string(v) == "null":
		return "", true
	case v[0] != '"' || !plainString(v): // nothing encoding/json would unescape or replace
		return "", false
	}
	return string(v[1 : len(v)-1]), true
}

// scaleFields reads a stored object's metadata.generation and spec.replicas
// as decideScale's struct decodes them (replicas nil when absent or null),
// without decoding the rest; ok false: decode it.
func scaleFields(obj []byte) (generation int64, replicas *int32, ok bool) {
	if !isObject(obj) {
		return 0, nil, false
	}
	var buf [16]member
	ms, valid := splitObject(obj, buf[:0])
	if !valid {
		return 0, nil, false
	}
	meta, ok1 := exactMember(ms, "metadata")
	spec, ok2 := exactMember(ms, "spec")
	g, ok3 := memberAt(meta, "generation")
	r, ok4 := memberAt(spec, "replicas")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, nil, false
	}
	if g != nil && string(g) != "null" {
		if generation, ok = jsonscan.Int(g, 64); !ok {
			return 0, nil, false
		}
	}
	if r != nil && string(r) != "null" {
		n, ok := jsonscan.Int(r, 32)
		if !ok {
			return 0, nil, false
		}
		replicas = new(int32(n))
	}
	return generation, replicas, true
}

// memberAt is the value at path (member names) inside the JSON value doc
// as encoding/json finds it for a struct with just those fields: nil when
// absent, or when doc or a value on the way is absent or null. ok false: it
// could not be sure (invalid JSON, escapes, keys differing only in case,
// duplicates, something else than an object on the way): decode it.
func memberAt(doc []byte, path ...string) (value []byte, ok bool) {
	value = doc
	for _, name := range path {
		if value == nil || string(value) == "null" {
			return nil, true
		}
		if !isObject(value) {
			return nil, false
		}
		var buf [16]member
		ms, valid := splitObject(value, buf[:0])
		if !valid {
			return nil, false
		}
		if value, ok = exactMember(ms, name); !ok {
			return nil, false
		}
	}
	return value, true
}

// exactMember is the value of the one member named name (nil if none);
// false if another key equals name but for case, or name comes twice, or a
// key has escapes (encoding/json matches keys case-insensitively).
func exactMember(ms []member, name string) ([]byte, bool) {
	var value []byte
	for _, m := range ms {
		switch {
		case !m.plainKey && bytes.IndexByte(m.key, '\\') >= 0:
			return nil, false
		case string(m.key) == name:
			if value != nil {
				return nil, false
			}
			value = m.value
		case bytes.EqualFold(m.key, []byte(name)):
			return nil, false
		}
	}
	return value, true
}

// Compact reports whether doc is valid JSON that encoding/json writes back
// byte for byte when it marshals it as a json.RawMessage: no white space
// outside strings and nothing it escapes (<, >, &, U+2028, U+2029). Then
// doc can be spliced into JSON instead of marshalled (which validates and
// compacts it again at several times the cost).
func Compact(doc []byte) bool {
	if !jsonscan.Valid(doc) {
		return false
	}
	// Valid JSON holds a tab, newline or carriage return only outside
	// strings; the rest encoding/json escapes wherever they are.
	for _, c := range [...]byte{'<', '>', '&', 0xE2, '\t', '\n', '\r'} { // 0xE2 leads U+2028 and U+2029
		if bytes.IndexByte(doc, c) >= 0 {
			return false
		}
	}
	if bytes.IndexByte(doc, ' ') < 0 {
		return true
	}
	in := false // a space: compact only if every one is in a string
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && c == ' ':
			return false
		}
	}
	return true
}
