package aggregates

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// decodeObject reads a manifest into obj, a new object, as
// manifests.Unmarshal reads a plain one (plainJSON): its kind, apiVersion
// and metadata, and members that are strings or string maps, itself; any
// other member through manifests, into the member. It checks what
// plainJSON would of what it reads itself (no key twice, none with
// escapes, strings valid UTF-8) and runs plainJSON's checks over each
// member it hands to manifests, so that a manifest it takes is plain and
// read once, each value by what it is read into. ok false, leaving obj to
// be thrown away: a type without a plan, an unknown key, a string with
// escapes, anything plainJSON refuses, or a value of another type than
// the member's (manifests decides those). TestDecodePlainMatchesStrict
// checks it through decodePlain.
func decodeObject(raw []byte, obj Object) bool {
	v, p := planned(obj)
	i := jsonscan.Space(raw, 0)
	if p == nil || i >= len(raw) || raw[i] != '{' {
		return false
	}
	tm := v.Field(0).Addr().Interface().(*metav1.TypeMeta)
	var seen uint64 // kind, apiVersion, metadata, then the plan's members
	end, ok := eachMember(raw, i, func(key []byte, at int) (int, bool) {
		bit := -1
		switch string(key) {
		case "kind":
			bit = 0
		case "apiVersion":
			bit = 1
		case "metadata":
			bit = 2
		default:
			for n, m := range p.members {
				if m.name == string(key) {
					bit = 3 + n
				}
			}
		}
		if bit < 0 || seen&(1<<bit) != 0 {
			return 0, false // unknown, or given twice: manifests decides
		}
		seen |= 1 << bit
		switch bit {
		case 0:
			return readString(&tm.Kind, raw, at)
		case 1:
			return readString(&tm.APIVersion, raw, at)
		case 2:
			return readObjectMeta(v.Field(1).Addr().Interface().(*metav1.ObjectMeta), raw, at)
		}
		m := p.members[bit-3]
		return m.read(v.Field(m.index), raw, at)
	})
	return ok && jsonscan.Space(raw, end) == len(raw)
}

// eachMember calls read for each member of the object at b[i], with its
// key, which must be plain (without escapes), and where its value starts;
// read returns where the value ends. It returns where the object ends.
func eachMember(b []byte, i int, read func(key []byte, at int) (int, bool)) (int, bool) {
	return jsonscan.Members(b, i, func(key []byte, plain bool, at int) (int, bool) {
		if !plain {
			return 0, false
		}
		return read(key, at)
	})
}

// readValue reads the value at b[at], nested depth deep, into v through
// manifests, when it is plain (plainValue).
func readValue(v any, b []byte, at, depth int) (int, bool) {
	end, ok := plainValue(b, at, depth)
	return end, ok && manifests.Unmarshal(b[at:end], v) == nil
}

// readObjectMeta reads a manifest's metadata as manifests does.
func readObjectMeta(m *metav1.ObjectMeta, b []byte, at int) (int, bool) {
	if end, ok := jsonscan.Literal(b, at, "null"); ok {
		return end, true
	}
	if at >= len(b) || b[at] != '{' {
		return 0, false
	}
	var seen uint32
	return eachMember(b, at, func(key []byte, at int) (int, bool) {
		for bit, f := range metaFields {
			if f.name == string(key) {
				if seen&(1<<bit) != 0 {
					return 0, false // given twice
				}
				seen |= 1 << bit
				return f.read(m, b, at)
			}
		}
		return 0, false // unknown
	})
}

// metaFields reads each member of a manifest's metadata: strings and
// string maps itself, the rest through manifests (readValue, two deep in
// the manifest).
var metaFields = [...]struct {
	name string
	read func(m *metav1.ObjectMeta, b []byte, at int) (int, bool)
}{
	{"name", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readString(&m.Name, b, at) }},
	{"generateName", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readString(&m.GenerateName, b, at) }},
	{"namespace", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readString(&m.Namespace, b, at) }},
	{"selfLink", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readString(&m.SelfLink, b, at) }},
	{"uid", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readString((*string)(&m.UID), b, at) }},
	{"resourceVersion", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readString(&m.ResourceVersion, b, at) }},
	{"labels", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readStringMap(&m.Labels, b, at) }},
	{"annotations", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readStringMap(&m.Annotations, b, at) }},
	{"generation", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readValue(&m.Generation, b, at, 2) }},
	{"creationTimestamp", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) {
		return readValue(&m.CreationTimestamp, b, at, 2)
	}},
	{"deletionTimestamp", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) {
		return readValue(&m.DeletionTimestamp, b, at, 2)
	}},
	{"deletionGracePeriodSeconds", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) {
		return readValue(&m.DeletionGracePeriodSeconds, b, at, 2)
	}},
	{"ownerReferences", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) {
		return readValue(&m.OwnerReferences, b, at, 2)
	}},
	{"finalizers", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readValue(&m.Finalizers, b, at, 2) }},
	{"managedFields", func(m *metav1.ObjectMeta, b []byte, at int) (int, bool) { return readValue(&m.ManagedFields, b, at, 2) }},
}

// readString reads the string member at b[at] as manifests does: null
// leaves it empty; a string with escapes, or anything else, is declined.
func readString(dst *string, b []byte, at int) (int, bool) {
	if end, ok := jsonscan.Literal(b, at, "null"); ok {
		*dst = ""
		return end, true
	}
	if at >= len(b) || b[at] != '"' {
		return 0, false
	}
	end, plain, ok := jsonscan.String(b, at)
	if !ok || !plain || !validUTF8(b[at+1:end-1]) {
		return 0, false
	}
	*dst = string(b[at+1 : end-1])
	return end, true
}

// readStringMap reads the string map at b[at] as stringMapDecoder does:
// null leaves it nil, an entry's null is its empty string.
func readStringMap(dst *map[string]string, b []byte, at int) (int, bool) {
	if end, ok := jsonscan.Literal(b, at, "null"); ok {
		*dst = nil
		return end, true
	}
	if at >= len(b) || b[at] != '{' {
		return 0, false
	}
	if *dst == nil {
		*dst = map[string]string{}
	}
	m := *dst
	return eachMember(b, at, func(key []byte, at int) (int, bool) {
		if _, dup := m[string(key)]; dup || !validUTF8(key) {
			return 0, false
		}
		var s string
		end, ok := readString(&s, b, at)
		m[string(key)] = s
		return end, ok
	})
}

// readerOf reads a member of type t as manifests does: strings without
// methods of their own and map[string]string itself, anything else
// through manifests, into the member.
func readerOf(t reflect.Type) func(reflect.Value, []byte, int) (int, bool) {
	switch {
	case t == stringMapGoType:
		return func(v reflect.Value, b []byte, at int) (int, bool) {
			return readStringMap(v.Addr().Interface().(*map[string]string), b, at)
		}
	case t.Kind() == reflect.String && !implementsAny(t, marshalerTypes) && !implementsAny(t, unmarshalerTypes):
		return func(v reflect.Value, b []byte, at int) (int, bool) {
			var s string
			end, ok := readString(&s, b, at)
			v.SetString(s)
			return end, ok
		}
	}
	return func(v reflect.Value, b []byte, at int) (int, bool) {
		return readValue(v.Addr().Interface(), b, at, 1) // a member of the manifest
	}
}

var unmarshalerTypes = []reflect.Type{
	reflect.TypeFor[interface{ UnmarshalJSON([]byte) error }](),
	reflect.TypeFor[interface{ UnmarshalText([]byte) error }](),
}
