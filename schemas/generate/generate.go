// Package generate builds Gantry's JSON Schemas from the Go types: one per
// kind (reflected from k8s.io/api), and one per command and event type that
// refer to them. `go generate ./schemas` writes them; a test fails when the
// checked-in files and the types drift apart.
package generate

import (
	"encoding/json"
	"reflect"
	"time"

	"github.com/invopop/jsonschema"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// Base is the URL every schema's $id starts with.
const Base = "https://gantry.dev/schemas/"

// Files returns every schema by its path under schemas/.
func Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, k := range aggregates.Builtin().Kinds() {
		ks, err := kindSchema(k)
		if err != nil {
			return nil, err
		}
		out["kinds/"+k.Token+".json"] = ks
		for _, verb := range commandVerbs(k) {
			out["commands/"+bus.CommandType(k.Token, verb)+".json"] = marshal(commandSchema(k, verb))
		}
		for _, verb := range aggregates.EventVerbs {
			out["events/"+bus.EventType(k.Token, verb)+".json"] = marshal(eventSchema(k, verb))
		}
	}
	return out, nil
}

func commandVerbs(k *aggregates.Kind) []string {
	verbs := []string{aggregates.VerbCreate, aggregates.VerbApply, aggregates.VerbUpdate, aggregates.VerbDelete, aggregates.VerbLabel, aggregates.VerbStatus}
	return append(verbs, k.Verbs...)
}

func kindSchema(k *aggregates.Kind) ([]byte, error) {
	r := &jsonschema.Reflector{
		RequiredFromJSONSchemaTags: true,
		Mapper:                     mapType,
	}
	s := r.ReflectFromType(reflect.TypeOf(k.New()).Elem())
	s.ID = jsonschema.ID(Base + "kinds/" + k.Token + ".json")
	s.Title = k.Name + " (" + k.APIVersion() + ")"
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// mapType gives the JSON form of types that marshal themselves.
func mapType(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeOf(resource.Quantity{}):
		return &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Type: "string"}, {Type: "number"}}}
	case reflect.TypeOf(intstr.IntOrString{}):
		return &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Type: "string"}, {Type: "integer"}}}
	case reflect.TypeOf(metav1.Time{}), reflect.TypeOf(metav1.MicroTime{}), reflect.TypeOf(time.Time{}):
		return &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Type: "string", Format: "date-time"}, {Type: "null"}}}
	case reflect.TypeOf(metav1.Duration{}):
		return &jsonschema.Schema{Type: "string"}
	case reflect.TypeOf(runtime.RawExtension{}), reflect.TypeOf(metav1.FieldsV1{}):
		return &jsonschema.Schema{}
	}
	return nil
}

type obj = map[string]any

func ref(k *aggregates.Kind, def string) obj {
	if def == "" {
		return obj{"$ref": Base + "kinds/" + k.Token + ".json"}
	}
	return obj{"$ref": Base + "kinds/" + k.Token + ".json#/$defs/" + def}
}

func statusDef(k *aggregates.Kind) string {
	if f, ok := reflect.TypeOf(k.New()).Elem().FieldByName("Status"); ok {
		return f.Type.Name()
	}
	return ""
}

func commandSchema(k *aggregates.Kind, verb string) obj {
	props := obj{
		"namespace":       obj{"type": "string"},
		"name":            obj{"type": "string", "minLength": 1},
		"resourceVersion": obj{"type": "string"},
	}
	required := []string{"name"}
	switch verb {
	case aggregates.VerbCreate, aggregates.VerbApply, aggregates.VerbUpdate:
		props["object"], required = ref(k, ""), append(required, "object")
	case aggregates.VerbDelete:
		props["gracePeriodSeconds"] = obj{"type": "integer", "minimum": 0}
	case aggregates.VerbLabel:
		props["labels"] = obj{"type": "object", "additionalProperties": obj{"type": []string{"string", "null"}}}
		required = append(required, "labels")
	case aggregates.VerbStatus:
		props["status"] = obj{}
		if def := statusDef(k); def != "" {
			props["status"] = ref(k, def)
		}
		required = append(required, "status")
	case aggregates.VerbScale:
		props["replicas"], required = obj{"type": "integer", "minimum": 0}, append(required, "replicas")
	case aggregates.VerbPatch:
		props["patch"], required = obj{"type": "object", "description": "RFC 7386 merge patch"}, append(required, "patch")
	case aggregates.VerbBind:
		props["nodeName"], required = obj{"type": "string", "minLength": 1}, append(required, "nodeName")
	}
	return obj{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     Base + "commands/" + bus.CommandType(k.Token, verb) + ".json",
		"title":   "Command " + verb + " " + k.Name + ": the data of CloudEvent type " + bus.CommandType(k.Token, verb),
		"type":    "object", "properties": props, "required": required, "additionalProperties": false,
	}
}

func eventSchema(k *aggregates.Kind, verb string) obj {
	var data obj
	switch verb {
	case aggregates.Created:
		data = ref(k, "")
		if k.Token == "secret" {
			data = obj{"type": "object", "description": "the Secret, its data sealed (AES-256-GCM) into sealedData", "properties": obj{"sealedData": obj{"type": "string"}, "data": false}}
		}
	case aggregates.Updated:
		data = fields(obj{"patch": obj{"type": "object", "description": "RFC 7386 merge patch from the old object to the new"}}, "patch")
	case aggregates.Scaled:
		data = fields(obj{"replicas": obj{"type": "integer"}, "previous": obj{"type": "integer"}, "generation": obj{"type": "integer"}}, "replicas", "previous", "generation")
	case aggregates.Labeled:
		data = fields(obj{"labels": obj{"type": "object", "additionalProperties": obj{"type": []string{"string", "null"}}}}, "labels")
	case aggregates.Bound:
		data = fields(obj{"nodeName": obj{"type": "string"}}, "nodeName")
	case aggregates.StatusChanged:
		st := obj{}
		if def := statusDef(k); def != "" {
			st = ref(k, def)
		}
		data = fields(obj{"status": st}, "status")
	case aggregates.Terminating:
		data = fields(obj{"deletionTimestamp": obj{"type": "string"}, "gracePeriodSeconds": obj{"type": "integer"}}, "deletionTimestamp", "gracePeriodSeconds")
	case aggregates.Deleted:
		data = fields(obj{})
	}
	data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	data["$id"] = Base + "events/" + bus.EventType(k.Token, verb) + ".json"
	data["title"] = "Event " + verb + " " + k.Name + ": the data of CloudEvent type " + bus.EventType(k.Token, verb)
	return data
}

func fields(props obj, required ...string) obj {
	o := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func marshal(v any) []byte {
	b, _ := json.MarshalIndent(v, "", "  ")
	return append(b, '\n')
}
