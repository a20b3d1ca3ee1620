package aggregates

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// Verbs a command may carry. Every kind takes create, apply, update,
// delete, label and status; a kind lists the others it takes.
const (
	VerbCreate   = "create"   // the object must not exist
	VerbApply    = "apply"    // create, or update if it exists
	VerbUpdate   = "update"   // replace spec and metadata of an existing object
	VerbDelete   = "delete"   // tombstone (pods on a node: terminating first)
	VerbLabel    = "label"    // add, change or remove labels
	VerbStatus   = "status"   // replace the observed status
	VerbScale    = "scale"    // set spec.replicas
	VerbBind     = "bind"     // bind a pod to a node
	VerbFinalize = "finalize" // a terminating pod's containers are gone: delete it
	VerbPatch    = "patch"    // an RFC 7386 merge patch of spec, metadata.labels or metadata.annotations
)

// Command is what a user or worker asks of one object. Kind and Verb come
// from the subject it arrived on; the rest is the CloudEvent's data.
type Command struct {
	Kind string `json:"-"`
	Verb string `json:"-"`

	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// ResourceVersion, when set, must be the object's current version.
	ResourceVersion string `json:"resourceVersion,omitempty"`

	Object             json.RawMessage    `json:"object,omitempty"`             // create, apply, update
	Replicas           *int32             `json:"replicas,omitempty"`           // scale
	Labels             map[string]*string `json:"labels,omitempty"`             // label: null removes
	NodeName           string             `json:"nodeName,omitempty"`           // bind
	Status             json.RawMessage    `json:"status,omitempty"`             // status
	GracePeriodSeconds *int64             `json:"gracePeriodSeconds,omitempty"` // delete
	Patch              json.RawMessage    `json:"patch,omitempty"`              // patch
}

// Env is what Decide may know of the world: injected, never read.
type Env struct {
	Now    time.Time
	NewUID func() string
}

// ObjectKey is "<namespace>/<name>": the command service routes by it, so
// commands on one object are decided in order.
func (c Command) ObjectKey() string { return c.Namespace + "/" + c.Name }

// AppendJSON appends c as encoding/json marshals it, without reflection,
// and splices the raw members in as they are when encoding/json would
// write them back byte for byte (Compact) instead of checking and
// compacting them again: every command a client sends is marshalled. ok
// false: a raw member encoding/json would rewrite; marshal c with it.
// TestCommandAppendJSONMatchesMarshal.
func (c Command) AppendJSON(dst []byte) ([]byte, bool) {
	out := append(dst, '{')
	ok := true
	str := func(name, v string, omitEmpty bool) {
		if omitEmpty && v == "" {
			return
		}
		out = appendString(jsonscan.AppendMember(out, name), v)
	}
	raw := func(name string, v json.RawMessage) {
		if len(v) == 0 {
			return
		}
		ok = ok && Compact(v)
		out = jsonscan.AppendMember(out, name)
		out = append(out, v...)
	}
	str("namespace", c.Namespace, true)
	str("name", c.Name, false)
	str("resourceVersion", c.ResourceVersion, true)
	raw("object", c.Object)
	if c.Replicas != nil {
		out = strconv.AppendInt(jsonscan.AppendMember(out, "replicas"), int64(*c.Replicas), 10)
	}
	if len(c.Labels) > 0 {
		out = appendLabels(jsonscan.AppendMember(out, "labels"), c.Labels)
	}
	str("nodeName", c.NodeName, true)
	raw("status", c.Status)
	if c.GracePeriodSeconds != nil {
		out = strconv.AppendInt(jsonscan.AppendMember(out, "gracePeriodSeconds"), *c.GracePeriodSeconds, 10)
	}
	raw("patch", c.Patch)
	return append(out, '}'), ok
}
