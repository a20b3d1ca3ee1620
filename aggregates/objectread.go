package aggregates

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// decodeObject reads a plain manifest (plainJSON) into obj, a new object,
// as manifests.Unmarshal reads it: its kind, apiVersion and metadata, and
// members that are strings or string maps, itself; any other member
// through manifests, into the member. ok false, leaving obj to be thrown
// away: a type without a plan, an unknown key, a string with escapes or
// a value of another type than the member's (manifests decides those).
// plainJSON has checked the whole manifest, so it is read once, each
// value by what it is read into. TestDecodePlainMatchesStrict checks it
// through decodePlain.
func decodeObject(raw []byte, obj Object) bool {
	v, p := planned(obj)
	i := jsonscan.Space(raw, 0)
	if p == nil || i >= len(raw) || raw[i] != '{' {
		return false
	}
	tm := v.Field(0).Addr().Interface().(*metav1.TypeMeta)
	end, ok := eachMember(raw, i, func(key []byte, at int) (int, bool) {
		switch string(key) {
		case "kind":
			return readString(&tm.Kind, raw, at)
		case "apiVersion":
			return readString(&tm.APIVersion, raw, at)
		case "metadata":
			return readObjectMeta(v.Field(1).Addr().Interface().(*metav1.ObjectMeta), raw, at)
		}
		for _, m := range p.members {
			if m.name == string(key) {
				return m.read(v.Field(m.index), raw, at)
			}
		}
		return 0, false // unknown: manifests refuses it
	})
	return ok && jsonscan.Space(raw, end) == len(raw)
}

// eachMember calls read for each member of the object at b[i], in a
// document plainJSON took, with its key and where its value starts; read
// returns where the value ends. It returns where the object ends.
func eachMember(b []byte, i int, read func(key []byte, at int) (int, bool)) (int, bool) {
	if i = jsonscan.Space(b, i+1); i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for i < len(b) && b[i] == '"' {
		end, plain, ok := jsonscan.String(b, i)
		if !ok || !plain {
			return 0, false
		}
		key := b[i+1 : end-1]
		if i = jsonscan.Space(b, end); i >= len(b) || b[i] != ':' {
			return 0, false
		}
		if i, ok = read(key, jsonscan.Space(b, i+1)); !ok {
			return 0, false
		}
		var more bool
		if i, more, ok = jsonscan.After(b, i, '}'); !ok || !more {
			return i, ok
		}
	}
	return 0, false
}

// readValue reads the value at b[at] into v through manifests.
func readValue(v any, b []byte, at int) (int, bool) {
	end, ok := jsonscan.Value(b, at)
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
	return eachMember(b, at, func(key []byte, at int) (int, bool) {
		switch string(key) {
		case "name":
			return readString(&m.Name, b, at)
		case "generateName":
			return readString(&m.GenerateName, b, at)
		case "namespace":
			return readString(&m.Namespace, b, at)
		case "selfLink":
			return readString(&m.SelfLink, b, at)
		case "uid":
			return readString((*string)(&m.UID), b, at)
		case "resourceVersion":
			return readString(&m.ResourceVersion, b, at)
		case "labels":
			return readStringMap(&m.Labels, b, at)
		case "annotations":
			return readStringMap(&m.Annotations, b, at)
		case "generation":
			return readValue(&m.Generation, b, at)
		case "creationTimestamp":
			return readValue(&m.CreationTimestamp, b, at)
		case "deletionTimestamp":
			return readValue(&m.DeletionTimestamp, b, at)
		case "deletionGracePeriodSeconds":
			return readValue(&m.DeletionGracePeriodSeconds, b, at)
		case "ownerReferences":
			return readValue(&m.OwnerReferences, b, at)
		case "finalizers":
			return readValue(&m.Finalizers, b, at)
		case "managedFields":
			return readValue(&m.ManagedFields, b, at)
		}
		return 0, false
	})
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
	if !ok || !plain {
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
	case t.Kind() == reflect.String && methodless(t):
		return func(v reflect.Value, b []byte, at int) (int, bool) {
			var s string
			end, ok := readString(&s, b, at)
			v.SetString(s)
			return end, ok
		}
	}
	return func(v reflect.Value, b []byte, at int) (int, bool) {
		return readValue(v.Addr().Interface(), b, at)
	}
}
