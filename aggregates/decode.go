package aggregates

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
)

// DecodeManifest decodes an object a user sent, strictly: an unknown,
// duplicate or wrongly typed field is an error naming its path. It checks
// apiVersion and kind, fills Kubernetes defaults and validates. Warnings
// name fields Gantry accepts but does not act on.
func DecodeManifest(k *Kind, raw []byte) (Object, []string, error) {
	obj := k.New()
	strict, err := sigsjson.UnmarshalStrict(raw, obj)
	if err != nil {
		return nil, nil, invalid(k, nameOf(raw), field.ErrorList{field.Invalid(field.NewPath(""), "", cleanJSONError(err))})
	}
	if len(strict) > 0 {
		var errs field.ErrorList
		for _, e := range strict {
			errs = append(errs, field.Invalid(field.NewPath(""), "", cleanJSONError(e)))
		}
		return nil, nil, invalid(k, nameOf(raw), errs) // the name only when refused: it costs a pass over raw
	}
	if errs := checkTypeMeta(k, obj); len(errs) > 0 {
		return nil, nil, invalid(k, obj.GetName(), errs)
	}
	if k.Default != nil {
		k.Default(obj)
	}
	return obj, warnings(k, raw), nil
}

// decodeStored decodes an object read from the stream (trusted, lenient).
func decodeStored(k *Kind, raw []byte) (Object, error) {
	obj := k.New()
	if err := json.Unmarshal(raw, obj); err != nil {
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

// warnings names every Unimplemented field the manifest sets.
func warnings(k *Kind, raw []byte) []string {
	if len(k.Unimplemented) == 0 {
		return nil
	}
	var doc any
	if json.Unmarshal(raw, &doc) != nil {
		return nil
	}
	var out []string
	for _, path := range k.Unimplemented {
		if present(doc, strings.Split(path, ".")) {
			out = append(out, fmt.Sprintf("%s %q: field %s is accepted but not implemented by Gantry", k.Name, nameOf(raw), path))
		}
	}
	return out
}

// present walks a dotted path; "[]" steps into every element of a list.
func present(doc any, path []string) bool {
	if len(path) == 0 {
		return doc != nil
	}
	switch v := doc.(type) {
	case map[string]any:
		if strings.HasSuffix(path[0], "[]") {
			list, _ := v[strings.TrimSuffix(path[0], "[]")].([]any)
			for _, el := range list {
				if present(el, path[1:]) {
					return true
				}
			}
			return false
		}
		return present(v[path[0]], path[1:])
	}
	return false
}

// zeroStatus clears obj.Status: a user's create or update never sets it.
func zeroStatus(obj Object) {
	v := reflect.ValueOf(obj).Elem().FieldByName("Status")
	if v.IsValid() && v.CanSet() {
		v.Set(reflect.Zero(v.Type()))
	}
}

// copyStatus keeps old's status on new.
func copyStatus(from, to Object) {
	src := reflect.ValueOf(from).Elem().FieldByName("Status")
	dst := reflect.ValueOf(to).Elem().FieldByName("Status")
	if src.IsValid() && dst.CanSet() {
		dst.Set(src)
	}
}
