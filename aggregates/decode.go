package aggregates

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// DecodeManifest decodes an object a user sent, strictly: an unknown,
// duplicate or wrongly typed field is an error naming its path. It checks
// apiVersion and kind, fills Kubernetes defaults and validates. Warnings
// name fields Gantry accepts but does not act on.
func DecodeManifest(k *Kind, raw []byte) (Object, []string, error) {
	obj := k.New()
	if !decodePlain(raw, obj) {
		obj = k.New() // what a failed fast decode left is not to be trusted
		if err := decodeStrict(k, raw, obj); err != nil {
			return nil, nil, err
		}
	}
	if errs := checkTypeMeta(k, obj); len(errs) > 0 {
		return nil, nil, invalid(k, obj.GetName(), errs)
	}
	if k.Default != nil {
		k.Default(obj)
	}
	return obj, warnings(k, raw), nil
}

// decodeStrict decodes a manifest the way the API server does (case
// sensitive, refusing unknown and repeated fields) and words what it
// refuses.
func decodeStrict(k *Kind, raw []byte, obj Object) error {
	strict, err := sigsjson.UnmarshalStrict(raw, obj)
	if err != nil {
		return invalid(k, nameOf(raw), field.ErrorList{field.Invalid(field.NewPath(""), "", cleanJSONError(err))})
	}
	if len(strict) > 0 {
		var errs field.ErrorList
		for _, e := range strict {
			errs = append(errs, field.Invalid(field.NewPath(""), "", cleanJSONError(e)))
		}
		return invalid(k, nameOf(raw), errs) // the name only when refused: it costs a pass over raw
	}
	return nil
}

// decodeStored decodes an object read from the stream (trusted, lenient).
func decodeStored(k *Kind, raw []byte) (Object, error) {
	obj := k.New()
	if err := Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("aggregates: stored %s: %w", k.Name, err)
	}
	return obj, nil
}

func checkTypeMeta(k *Kind, obj Object) field.ErrorList {
	var errs field.ErrorList
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind != "" && gvk.Kind != k.Name {
		errs = append(errs, field.Invalid(field.NewPath("kind"), gvk.Kind, "must be "+k.Name))
	}
	if av := gvk.GroupVersion().String(); gvk.Version != "" && av != k.APIVersion() {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), av, []string{k.APIVersion()}))
	}
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Name})
	return errs
}

func invalid(k *Kind, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: k.Group, Kind: k.Name}, name, errs)
}

// cleanJSONError drops the Go type names encoding/json puts in messages.
func cleanJSONError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if i := strings.Index(msg, "Go struct field "); i >= 0 {
		rest := msg[i+len("Go struct field "):]
		// "PodSpec.spec.containers.ports.containerPort of type int32" -> path and type
		if j := strings.Index(rest, " of type "); j >= 0 {
			path := rest[:j]
			if d := strings.Index(path, "."); d >= 0 {
				path = path[d+1:]
			}
			msg = msg[:i] + "field " + path + " of type " + rest[j+len(" of type "):]
		}
	}
	return msg
}

func nameOf(raw []byte) string {
	var m struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.Metadata.Name
}

// warnings names every Unimplemented field the manifest sets (to
// anything but null). It reads raw in place: a decode into maps cost more
// than the strict decode itself.
func warnings(k *Kind, raw []byte) []string {
	if len(k.Unimplemented) == 0 {
		return nil
	}
	var out []string
	var name string                              // read once, when there is a warning to name it in
	escaped := bytes.Contains(raw, []byte(`\u`)) // a key may be spelled with escapes
	for _, path := range k.Unimplemented {
		if !escaped && !quotedIn(raw, lastStep(path)) {
			continue // the field's key appears nowhere: most manifests set none of these
		}
		if present(raw, path) {
			if out == nil {
				name = nameOf(raw)
			}
			out = append(out, fmt.Sprintf("%s %q: field %s is accepted but not implemented by Gantry", k.Name, name, path))
		}
	}
	return out
}

// lastStep is the key a dotted path ends in.
func lastStep(path string) string {
	return strings.TrimSuffix(path[strings.LastIndexByte(path, '.')+1:], "[]")
}

// quotedIn reports whether doc holds key between quotes.
func quotedIn(doc []byte, key string) bool {
	for i := 0; ; {
		j := bytes.Index(doc[i:], []byte(key))
		if j < 0 {
			return false
		}
		j += i
		if j > 0 && doc[j-1] == '"' && j+len(key) < len(doc) && doc[j+len(key)] == '"' {
			return true
		}
		i = j + 1
	}
}

// present walks a dotted path through doc; a step ending in "[]" goes into
// every element of a list. Like a decode into maps, the last of duplicate
// keys counts, and keys compare after unescaping.
func present(doc []byte, path string) bool {
	if path == "" {
		end := jsonscan.Space(doc, 0)
		return end < len(doc) && !bytes.HasPrefix(doc[end:], []byte("null"))
	}
	step, rest, _ := strings.Cut(path, ".")
	step, each := strings.CutSuffix(step, "[]")
	var val []byte
	jsonscan.Object(doc, func(key []byte, plain bool, v []byte) bool {
		if plain && string(key) == step || !plain && unquoted(key) == step {
			val = v
		}
		return true
	})
	if val == nil {
		return false
	}
	if !each {
		return present(val, rest)
	}
	found := false
	jsonscan.Array(val, func(el []byte) bool {
		found = present(el, rest)
		return !found
	})
	return found
}

// unquoted is the value of a string token's bytes between its quotes.
func unquoted(key []byte) string {
	var s string
	_ = json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &s)
	return s
}

// zeroStatus clears obj.Status: a user's create or update never sets it.
func zeroStatus(obj Object) {
	if v := statusOf(obj); v.IsValid() && v.CanSet() {
		v.SetZero()
	}
}

// copyStatus keeps old's status on new.
func copyStatus(from, to Object) {
	if src, dst := statusOf(from), statusOf(to); src.IsValid() && dst.CanSet() {
		dst.Set(src)
	}
}

// statusFields holds each object type's Status field index (nil: none):
// looking a field up by name costs more than the rest of a create's
// bookkeeping.
var statusFields sync.Map // reflect.Type → []int

// statusOf is obj's Status field, or the zero Value when it has none.
func statusOf(obj Object) reflect.Value {
	v := reflect.ValueOf(obj).Elem()
	index, ok := statusFields.Load(v.Type())
	if !ok {
		var path []int
		if f, found := v.Type().FieldByName("Status"); found {
			path = f.Index
		}
		index, _ = statusFields.LoadOrStore(v.Type(), path)
	}
	if path := index.([]int); path != nil {
		return v.FieldByIndex(path)
	}
	return reflect.Value{}
}
