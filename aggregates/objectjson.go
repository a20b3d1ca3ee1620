package aggregates

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// appendObject writes obj as encoding/json marshals it, byte for byte.
// Its kind, apiVersion and metadata, and members that are strings,
// booleans, integers (or pointers to them) or string maps, it writes
// itself; any other member (a spec, a status) it hands to encoding/json.
// A stored object is written whenever it changes, and in the running
// service encoding/json's reflection over the metadata and a ConfigMap's
// data cost several microseconds of a create's round trip. ok false: a
// type laid out otherwise than a Kubernetes object (plan), or a member
// encoding/json refuses; marshal obj with encoding/json then.
// TestAppendObjectMatchesMarshal.
func appendObject(out []byte, obj Object) ([]byte, bool) {
	v, p := planned(obj)
	if p == nil {
		return out, false
	}
	tm := v.Field(0).Addr().Interface().(*metav1.TypeMeta)
	out = append(out, '{')
	if tm.Kind != "" {
		out = appendString(append(out, `"kind":`...), tm.Kind)
		out = append(out, ',')
	}
	if tm.APIVersion != "" {
		out = appendString(append(out, `"apiVersion":`...), tm.APIVersion)
		out = append(out, ',')
	}
	out, ok := appendObjectMeta(append(out, `"metadata":`...), v.Field(1).Addr().Interface().(*metav1.ObjectMeta))
	for _, f := range p.members {
		fv := v.Field(f.index)
		if !ok || f.omitted(fv) {
			continue
		}
		out, ok = f.write(append(out, f.key...), fv)
	}
	return append(out, '}'), ok
}

// objectPlan is how appendObject writes one type's members after its
// metadata, and decodeObject (objectread.go) reads them.
type objectPlan struct {
	members []planMember
}

type planMember struct {
	index               int
	name                string
	key                 string // `,"name":`
	omitEmpty, omitZero bool
	isZero              func(reflect.Value) bool // the type's own IsZero, for omitzero
	write               func(out []byte, v reflect.Value) ([]byte, bool)
	read                func(v reflect.Value, b []byte, at int) (end int, ok bool)
}

var plans sync.Map // reflect.Type → *objectPlan; nil: encoding/json writes the type

// planned is the struct obj points to and its plan; nil: it has none.
func planned(obj Object) (reflect.Value, *objectPlan) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return v, nil
	}
	return v.Elem(), planOf(v.Elem().Type())
}

func planOf(t reflect.Type) *objectPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*objectPlan)
	}
	p := makePlan(t)
	plans.Store(t, p)
	return p
}

var (
	typeMetaType    = reflect.TypeFor[metav1.TypeMeta]()
	objectMetaType  = reflect.TypeFor[metav1.ObjectMeta]()
	stringMapGoType = reflect.TypeFor[map[string]string]()
	marshalerTypes  = []reflect.Type{reflect.TypeFor[json.Marshaler](), reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()}
	isZeroerType    = reflect.TypeFor[interface{ IsZero() bool }]()
)

// makePlan plans a struct laid out as every Kubernetes object is: the
// TypeMeta inlined, then the ObjectMeta as "metadata", then named members
// with plain JSON names. Anything else (and metadata types other than
// appendObjectMeta knows) is nil: encoding/json's to write.
func makePlan(t reflect.Type) *objectPlan {
	if t.Kind() != reflect.Struct || t.NumField() < 2 || !metaKnown() || implementsAny(t, marshalerTypes) {
		return nil
	}
	if f := t.Field(0); !f.Anonymous || f.Type != typeMetaType || (f.Tag.Get("json") != "" && f.Tag.Get("json") != ",inline") {
		return nil
	}
	if f := t.Field(1); !f.Anonymous || f.Type != objectMetaType || f.Tag.Get("json") != "metadata,omitempty" {
		return nil
	}
	if t.NumField() > 2+61 { // decodeObject marks the members it has seen in a uint64
		return nil
	}
	p := &objectPlan{}
	names := map[string]bool{"kind": true, "apiVersion": true, "metadata": true}
	for i := 2; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || !f.IsExported() || !plainName(name) || names[name] {
			return nil // "-", a name encoding/json would not take or escape, one given twice
		}
		names[name] = true
		m := planMember{index: i, name: name, key: `,"` + name + `":`, write: writerOf(f.Type), read: readerOf(f.Type)}
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "omitempty":
				m.omitEmpty = true
			case "omitzero":
				m.omitZero = true
				m.isZero = isZeroOf(f.Type)
			case "":
			default: // ",string" and the like
				return nil
			}
		}
		p.members = append(p.members, m)
	}
	return p
}

// plainName: a JSON name of letters, digits, '-', '_', '.' and '/', which
// encoding/json takes from a tag and writes as it is.
func plainName(name string) bool {
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return false
		}
	}
	return name != ""
}

// omitted is encoding/json's test for leaving a member out.
func (m planMember) omitted(v reflect.Value) bool {
	if m.omitZero && (m.isZero == nil && v.IsZero() || m.isZero != nil && m.isZero(v)) {
		return true
	}
	if !m.omitEmpty {
		return false
	}
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZeroOf is the IsZero method encoding/json's omitzero calls for t, if
// t has one.
func isZeroOf(t reflect.Type) func(reflect.Value) bool {
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() || (v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil()) || v.Interface().(interface{ IsZero() bool }).IsZero()
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.IsNil() || v.Interface().(interface{ IsZero() bool }).IsZero() }
	case t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.Interface().(interface{ IsZero() bool }).IsZero() }
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.Addr().Interface().(interface{ IsZero() bool }).IsZero() }
	}
	return nil
}

// writerOf writes a member of type t: strings, booleans, integers and
// pointers to them without methods of their own, and map[string]string,
// itself; anything else through encoding/json, by address so that its
// pointer methods are the ones encoding/json would call in place.
func writerOf(t reflect.Type) func([]byte, reflect.Value) ([]byte, bool) {
	if t == stringMapGoType {
		return func(out []byte, v reflect.Value) ([]byte, bool) {
			return appendStringMap(out, v.Interface().(map[string]string)), true
		}
	}
	if w := scalarWriter(t); w != nil {
		return w
	}
	if t.Kind() == reflect.Pointer {
		if w := scalarWriter(t.Elem()); w != nil {
			return func(out []byte, v reflect.Value) ([]byte, bool) {
				if v.IsNil() {
					return append(out, "null"...), true
				}
				return w(out, v.Elem())
			}
		}
	}
	return func(out []byte, v reflect.Value) ([]byte, bool) {
		return appendJSON(out, v.Addr().Interface())
	}
}

// appendJSON appends what json.Marshal writes of v, without the copy of
// it json.Marshal returns.
func appendJSON(out []byte, v any) ([]byte, bool) {
	buf := bytes.NewBuffer(out)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return out, false
	}
	b := buf.Bytes()
	return b[:len(b)-1], true // Encode ends with a newline
}

func scalarWriter(t reflect.Type) func([]byte, reflect.Value) ([]byte, bool) {
	if implementsAny(t, marshalerTypes) {
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		return func(out []byte, v reflect.Value) ([]byte, bool) { return appendString(out, v.String()), true }
	case reflect.Bool:
		return func(out []byte, v reflect.Value) ([]byte, bool) { return strconv.AppendBool(out, v.Bool()), true }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(out []byte, v reflect.Value) ([]byte, bool) { return strconv.AppendInt(out, v.Int(), 10), true }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return func(out []byte, v reflect.Value) ([]byte, bool) { return strconv.AppendUint(out, v.Uint(), 10), true }
	}
	return nil
}

// implementsAny: t or its pointer has the methods of one of types (on t
// with marshalerTypes: t marshals itself, and encoding/json does not write
// it by its kind).
func implementsAny(t reflect.Type, types []reflect.Type) bool {
	for _, m := range types {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return true
		}
	}
	return false
}

// metaKnown: TypeMeta, ObjectMeta and OwnerReference have the members
// appendObject and appendObjectMeta write, no more (a newer apimachinery
// may add some).
var metaKnown = sync.OnceValue(func() bool {
	names := func(t reflect.Type) []string {
		var n []string
		for i := range t.NumField() {
			n = append(n, t.Field(i).Tag.Get("json"))
		}
		return n
	}
	return slices.Equal(names(typeMetaType), []string{"kind,omitempty", "apiVersion,omitempty"}) && slices.Equal(names(objectMetaType), []string{
		"name,omitempty", "generateName,omitempty", "namespace,omitempty", "selfLink,omitempty", "uid,omitempty",
		"resourceVersion,omitempty", "generation,omitempty", "creationTimestamp,omitempty,omitzero",
		"deletionTimestamp,omitempty", "deletionGracePeriodSeconds,omitempty", "labels,omitempty",
		"annotations,omitempty", "ownerReferences,omitempty", "finalizers,omitempty", "managedFields,omitempty",
	}) && slices.Equal(names(reflect.TypeFor[metav1.OwnerReference]()), []string{
		"apiVersion", "kind", "name", "uid", "controller,omitempty", "blockOwnerDeletion,omitempty",
	})
})

// appendObjectMeta writes m as encoding/json does.
func appendObjectMeta(out []byte, m *metav1.ObjectMeta) ([]byte, bool) {
	w := members{out: append(out, '{')}
	w.str("name", m.Name)
	w.str("generateName", m.GenerateName)
	w.str("namespace", m.Namespace)
	w.str("selfLink", m.SelfLink)
	w.str("uid", string(m.UID))
	w.str("resourceVersion", m.ResourceVersion)
	if m.Generation != 0 {
		w.out = strconv.AppendInt(w.key("generation"), m.Generation, 10)
	}
	if !m.CreationTimestamp.IsZero() {
		w.out = appendTime(w.key("creationTimestamp"), m.CreationTimestamp.Time)
	}
	if m.DeletionTimestamp != nil {
		w.out = appendTime(w.key("deletionTimestamp"), m.DeletionTimestamp.Time)
	}
	if m.DeletionGracePeriodSeconds != nil {
		w.out = strconv.AppendInt(w.key("deletionGracePeriodSeconds"), *m.DeletionGracePeriodSeconds, 10)
	}
	if len(m.Labels) > 0 {
		w.out = appendStringMap(w.key("labels"), m.Labels)
	}
	if len(m.Annotations) > 0 {
		w.out = appendStringMap(w.key("annotations"), m.Annotations)
	}
	if len(m.OwnerReferences) > 0 {
		w.out = appendArray(w.key("ownerReferences"), m.OwnerReferences, appendOwnerReference)
	}
	if len(m.Finalizers) > 0 {
		w.out = appendArray(w.key("finalizers"), m.Finalizers, appendString)
	}
	ok := true
	if len(m.ManagedFields) > 0 {
		w.out, ok = appendJSON(w.key("managedFields"), m.ManagedFields)
	}
	return append(w.out, '}'), ok
}

// appendArray writes items as a JSON array, each with write.
func appendArray[T any](out []byte, items []T, write func([]byte, T) []byte) []byte {
	out = append(out, '[')
	for i, v := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = write(out, v)
	}
	return append(out, ']')
}

func appendOwnerReference(out []byte, r metav1.OwnerReference) []byte {
	out = appendString(append(out, `{"apiVersion":`...), r.APIVersion)
	out = appendString(append(out, `,"kind":`...), r.Kind)
	out = appendString(append(out, `,"name":`...), r.Name)
	out = appendString(append(out, `,"uid":`...), string(r.UID))
	if r.Controller != nil {
		out = strconv.AppendBool(append(out, `,"controller":`...), *r.Controller)
	}
	if r.BlockOwnerDeletion != nil {
		out = strconv.AppendBool(append(out, `,"blockOwnerDeletion":`...), *r.BlockOwnerDeletion)
	}
	return append(out, '}')
}

// members writes an object's members, the comma before all but the first.
type members struct {
	out  []byte
	some bool
}

func (w *members) key(name string) []byte {
	if w.some {
		w.out = append(w.out, ',')
	}
	w.some = true
	return append(append(append(w.out, '"'), name...), '"', ':')
}

// str writes a string member that is left out when empty (omitempty).
func (w *members) str(name, v string) {
	if v != "" {
		w.out = appendString(w.key(name), v)
	}
}

// appendTime writes a metav1.Time as its MarshalJSON does.
func appendTime(out []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(out, "null"...)
	}
	out = append(out, '"')
	return append(t.UTC().AppendFormat(out, time.RFC3339), '"')
}

// appendStringMap writes m as encoding/json does: keys sorted, nil as null.
func appendStringMap(out []byte, m map[string]string) []byte {
	if m == nil {
		return append(out, "null"...)
	}
	out = append(out, '{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(append(appendString(out, k), ':'), m[k])
	}
	return append(out, '}')
}

// appendString writes s as encoding/json does: as it is when nothing in
// it is escaped, else through encoding/json.
func appendString(out []byte, s string) []byte {
	if jsonscan.Verbatim(s) {
		return append(append(append(out, '"'), s...), '"')
	}
	b, _ := json.Marshal(s) // a string always marshals
	return append(out, b...)
}
