package bus

import (
	"encoding/json"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// Reply is the command service's answer to one command.
type Reply struct {
	// Seq is the stream sequence of the event the command caused, which is
	// the object's new resourceVersion. Unchanged: the command caused none.
	Seq       uint64          `json:"seq,omitempty"`
	Event     string          `json:"event,omitempty"` // the verb of the event caused
	Unchanged bool            `json:"unchanged,omitempty"`
	Warnings  []string        `json:"warnings,omitempty"`
	Object    json.RawMessage `json:"object,omitempty"`
	// Status is set when the command was refused: a Kubernetes Status.
	Status *metav1.Status `json:"status,omitempty"`
}

// Err turns a refusal into a Kubernetes status error (nil if accepted).
func (r Reply) Err() error {
	if r.Status == nil {
		return nil
	}
	return &apierrors.StatusError{ErrStatus: *r.Status}
}

// Marshal writes the reply as the command service sends it, splicing the
// object in as it is: it is already compact JSON, and encoding/json would
// validate and compact it again (a large share of a command's CPU).
func (r Reply) Marshal() []byte {
	obj := r.Object
	if r.Status == nil && len(r.Warnings) == 0 && jsonscan.Verbatim(r.Event) {
		// An answer without warnings or refusal: written directly.
		out := make([]byte, 0, len(obj)+64)
		out = append(out, '{')
		if r.Seq != 0 {
			out = strconv.AppendUint(append(out, `"seq":`...), r.Seq, 10)
		}
		if r.Event != "" {
			out = append(append(append(jsonscan.AppendMember(out, "event"), '"'), r.Event...), '"')
		}
		if r.Unchanged {
			out = append(jsonscan.AppendMember(out, "unchanged"), "true"...)
		}
		if len(obj) > 0 {
			out = append(jsonscan.AppendMember(out, "object"), obj...)
		}
		return append(out, '}')
	}
	r.Object = nil
	body, _ := json.Marshal(r)
	if len(obj) == 0 {
		return body
	}
	out := make([]byte, 0, len(body)+len(obj)+16)
	out = append(out, body[:len(body)-1]...)
	if len(body) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"object":`...)
	out = append(out, obj...)
	return append(out, '}')
}

// decodeReply reads a command's reply. Its usual shape (seq, event,
// unchanged and the object, every key exact, as Marshal writes it)
// is split with jsonscan and the object taken as it is, sharing data's
// memory (nats.go gives every message its own): encoding/json would check
// and copy it again, a large share of a small command's CPU.
// Anything else (warnings, a refusal's status, another key) is decoded by
// encoding/json. TestDecodeReplyMatchesEncodingJSON checks the two agree.
func decodeReply(data []byte, r *Reply) error {
	if replyOwn(data, r) {
		return nil
	}
	*r = Reply{}
	return json.Unmarshal(data, r)
}

func replyOwn(b []byte, r *Reply) bool {
	var obj []byte
	ok := jsonscan.Object(b, func(key []byte, plainKey bool, v []byte) bool {
		if !plainKey {
			return false
		}
		switch string(key) {
		case "seq":
			n, ok := jsonscan.Uint(v)
			r.Seq = n
			return ok
		case "event":
			if !plainString(v) {
				return false
			}
			r.Event = string(v[1 : len(v)-1])
		case "unchanged":
			switch string(v) {
			case "true", "false":
				r.Unchanged = string(v) == "true"
			default:
				return false
			}
		case "object":
			if v[0] == 'n' {
				return false
			}
			obj = v
		default:
			return false
		}
		return true
	})
	if !ok {
		return false
	}
	r.Object = obj
	return true
}
