package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	jsoniter "github.com/json-iterator/go"
	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// ContentType is the NATS Content-Type of a structured CloudEvent.
const ContentType = "application/cloudevents+json"

// Extension attribute names Gantry sets on every event.
const (
	ExtActor         = "actor"
	ExtCausationID   = "causationid"
	ExtCorrelationID = "correlationid"
	ExtReason        = "reason"
)

// ErrInvalidEvent marks a message that is not a valid CloudEvent.
var ErrInvalidEvent = errors.New("invalid cloudevent")

// Envelope is one CloudEvents 1.0 event as Gantry reads and writes it.
// Data is JSON. Seq and Stored are set only for events read from a stream.
type Envelope struct {
	ID            string
	Source        string
	Type          string
	Subject       string
	Time          time.Time
	Actor         string
	CausationID   string
	CorrelationID string
	Reason        string // why, as the actor gave it
	Data          json.RawMessage

	Seq           uint64    // stream sequence
	Stored        time.Time // when the stream stored it
	StreamSubject string    // the NATS subject it was stored on
}

// EventType builds "dev.gantry.<kind>.<verb>.v1".
func EventType(kind, verb string) string { return "dev.gantry." + kind + "." + verb + ".v1" }

// CommandType builds the type of a command CloudEvent: "dev.gantry.cmd.<kind>.<verb>.v1".
func CommandType(kind, verb string) string { return "dev.gantry.cmd." + kind + "." + verb + ".v1" }

// IsCommandType reports whether t is CommandType(kind, verb), without
// making that string.
func IsCommandType(t, kind, verb string) bool {
	rest, ok := strings.CutPrefix(t, "dev.gantry.cmd.")
	rest, ok1 := strings.CutPrefix(rest, kind)
	rest, ok2 := strings.CutPrefix(rest, ".")
	rest, ok3 := strings.CutPrefix(rest, verb)
	return ok && ok1 && ok2 && ok3 && rest == ".v1"
}

// ParseEventType splits "dev.gantry.<kind>.<verb>.v<N>" into its parts.
func ParseEventType(t string) (kind, verb, version string, err error) {
	// As strings.Split on "." into exactly five parts, without the slice
	// (every fold parses a type).
	rest, ok := strings.CutPrefix(t, "dev.gantry.")
	kind, rest, ok1 := strings.Cut(rest, ".")
	verb, version, ok2 := strings.Cut(rest, ".")
	if !ok || !ok1 || !ok2 || strings.Contains(version, ".") || !strings.HasPrefix(version, "v") {
		return "", "", "", fmt.Errorf("%w: type %q is not dev.gantry.<kind>.<verb>.v<N>", ErrInvalidEvent, t)
	}
	return kind, verb, version, nil
}

// Marshal encodes the envelope as a structured-mode CloudEvent (JSON, data
// as JSON). It writes the wire form directly: the CloudEvents SDK's generic
// event costs more than the rest of a command; a test checks that the SDK
// reads every envelope Marshal writes.
func (e Envelope) Marshal() ([]byte, error) { return e.appendTo(nil, false) }

// appendTo appends what Marshal writes to out; dataValid: the caller made
// the data with a JSON encoder (a command's), so it is not scanned again.
func (e Envelope) appendTo(out []byte, dataValid bool) ([]byte, error) {
	if e.ID == "" || e.Source == "" || e.Type == "" {
		return nil, fmt.Errorf("%w: id, source and type are required", ErrInvalidEvent)
	}
	w := wireOut{
		SpecVersion: "1.0", ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject,
		Actor: e.Actor, CausationID: e.CausationID, CorrelationID: e.CorrelationID, Reason: e.Reason,
	}
	if !e.Time.IsZero() {
		w.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
	if len(e.Data) == 0 {
		return w.appendTo(out, 0)
	}
	if !dataValid && !jsonscan.Valid(e.Data) && !json.Valid(e.Data) { // json.Valid: the last word on what nests deeper than jsonscan follows
		return nil, fmt.Errorf("%w: event %s data is not JSON", ErrInvalidEvent, e.ID)
	}
	w.DataContentType = "application/json"
	head, err := w.appendTo(out, len(e.Data)+10)
	if err != nil {
		return nil, err
	}
	// Splice the data in as it is (encoding/json would compact it again).
	out = append(head[:len(head)-1], `,"data":`...)
	out = append(out, e.Data...)
	return append(out, '}'), nil
}

// appendTo appends w as encoding/json writes it to out, with room for
// extra bytes more. Attributes are plain ASCII as a rule, and then it
// writes them directly; one that encoding/json would escape sends the
// whole head through it.
func (w *wireOut) appendTo(out []byte, extra int) ([]byte, error) {
	attrs := [...]struct {
		name, value string
		omitEmpty   bool
	}{
		{"specversion", w.SpecVersion, false}, {"id", w.ID, false}, {"source", w.Source, false}, {"type", w.Type, false},
		{"subject", w.Subject, true}, {"datacontenttype", w.DataContentType, true}, {"time", w.Time, true},
		{"actor", w.Actor, true}, {"causationid", w.CausationID, true}, {"correlationid", w.CorrelationID, true},
		{"reason", w.Reason, true},
	}
	n := extra + 2
	for _, a := range attrs {
		if !jsonscan.Verbatim(a.value) {
			head, err := json.Marshal(w)
			if err != nil {
				return nil, err
			}
			return append(slices.Grow(out, len(head)+extra), head...), nil
		}
		n += len(a.name) + len(a.value) + 6
	}
	out = append(slices.Grow(out, n), '{')
	first := len(out)
	for _, a := range attrs {
		if a.omitEmpty && a.value == "" {
			continue
		}
		if len(out) > first {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, a.name...)
		out = append(out, `":"`...)
		out = append(out, a.value...)
		out = append(out, '"')
	}
	return append(out, '}'), nil
}

// wireOut is what Marshal writes, attributes first, in the spec's order.
type wireOut struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`
	Source          string `json:"source"`
	Type            string `json:"type"`
	Subject         string `json:"subject,omitempty"`
	DataContentType string `json:"datacontenttype,omitempty"`
	Time            string `json:"time,omitempty"`
	Actor           string `json:"actor,omitempty"`
	CausationID     string `json:"causationid,omitempty"`
	CorrelationID   string `json:"correlationid,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

// wire is the structured JSON form. Decoding Gantry's own stream with it
// is several times faster than through the SDK's generic event type, which
// matters when a projection folds millions of events.
type wire struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	DataBase64      []byte          `json:"data_base64"`
	Actor           string          `json:"actor"`
	CausationID     string          `json:"causationid"`
	CorrelationID   string          `json:"correlationid"`
	Reason          string          `json:"reason"`
}

// trusted decodes what Gantry itself wrote to its streams: jsoniter, in
// encoding/json's dialect, three times faster on an event (BenchmarkUnmarshalEnvelope),
// which every replay pays per event. Input from elsewhere goes through
// encoding/json.
var trusted = jsoniter.ConfigCompatibleWithStandardLibrary

// UnmarshalEnvelope decodes a structured CloudEvent written by Marshal.
func UnmarshalEnvelope(data []byte) (Envelope, error) {
	if e, ok := unmarshalOwn(data); ok {
		return e, nil
	}
	return unmarshalGeneral(data)
}

// unmarshalGeneral is UnmarshalEnvelope without the fast path.
func unmarshalGeneral(data []byte) (Envelope, error) {
	var w wire
	if err := trusted.Unmarshal(data, &w); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if w.SpecVersion != "1.0" || w.ID == "" || w.Source == "" || w.Type == "" {
		return Envelope{}, fmt.Errorf("%w: specversion 1.0, id, source and type are required", ErrInvalidEvent)
	}
	if w.Data == nil && w.DataBase64 != nil {
		w.Data = w.DataBase64
	}
	return Envelope{
		ID: w.ID, Source: w.Source, Type: w.Type, Subject: w.Subject, Time: w.Time,
		Actor: w.Actor, CausationID: w.CausationID, CorrelationID: w.CorrelationID, Reason: w.Reason,
		Data: w.Data,
	}, nil
}

// BinaryMode reports whether a message with headers h carries a
// binary-mode CloudEvent (ce-* headers, the body is the data), as
// DecodeCloudEvent reads it.
func BinaryMode(h nats.Header) bool { return h.Get("ce-specversion") != "" }

// DecodeCloudEvent reads a CloudEvent from any producer, in structured mode
// (the body is the event) or binary mode (ce-* headers, the body is the
// data), and checks it against the CloudEvents 1.0 rules (binary mode
// through the SDK; structured mode, the hot path, directly). The event's
// Data may share data's memory: the caller hands the message over.
func DecodeCloudEvent(data []byte, h nats.Header) (Envelope, error) {
	if !BinaryMode(h) {
		return decodeStructured(data)
	}
	ce := cloudevents.New()
	if err := fromBinary(&ce, data, h); err != nil {
		return Envelope{}, err
	}
	if err := ce.Validate(); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if ct := ce.DataContentType(); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return Envelope{}, fmt.Errorf("%w: datacontenttype %q: Gantry takes application/json data", ErrInvalidEvent, ct)
	}
	env := Envelope{
		ID: ce.ID(), Source: ce.Source(), Type: ce.Type(), Subject: ce.Subject(), Time: ce.Time(),
		Data: json.RawMessage(ce.Data()),
	}
	ext := ce.Extensions()
	env.Actor, _ = ext[ExtActor].(string)
	env.CausationID, _ = ext[ExtCausationID].(string)
	env.CorrelationID, _ = ext[ExtCorrelationID].(string)
	env.Reason, _ = ext[ExtReason].(string)
	return env, nil
}

func fromBinary(ce *cloudevents.Event, data []byte, h nats.Header) error {
	if v := h.Get("ce-specversion"); v != "1.0" {
		return fmt.Errorf("%w: ce-specversion %q, want 1.0", ErrInvalidEvent, v)
	}
	ce.SetID(h.Get("ce-id"))
	ce.SetSource(h.Get("ce-source"))
	ce.SetType(h.Get("ce-type"))
	if s := h.Get("ce-subject"); s != "" {
		ce.SetSubject(s)
	}
	if t := h.Get("ce-time"); t != "" {
		ts, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return fmt.Errorf("%w: ce-time %q: %v", ErrInvalidEvent, t, err)
		}
		ce.SetTime(ts)
	}
	for _, name := range []string{ExtActor, ExtCausationID, ExtCorrelationID, ExtReason} {
		if v := h.Get("ce-" + name); v != "" {
			ce.SetExtension(name, v)
		}
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	return ce.SetData(ct, data)
}

// decodeStructured reads a structured-mode event and applies the rules of
// CloudEvents 1.0 that matter here: specversion 1.0; id, source and type
// present; source a URI-reference; JSON data.
func decodeStructured(data []byte) (Envelope, error) {
	if e, ok, err := decodeStructuredOwn(data); ok {
		return e, err
	}
	return decodeStructuredGeneral(data)
}

// checkStructured: source is a URI-reference and the data is JSON.
func checkStructured(source, contentType string) error {
	if !plainURIReference(source) {
		if _, err := url.Parse(source); err != nil {
			return fmt.Errorf("%w: source %q is not a URI-reference", ErrInvalidEvent, source)
		}
	}
	if contentType != "" && !strings.HasPrefix(contentType, "application/json") {
		return fmt.Errorf("%w: datacontenttype %q: Gantry takes application/json data", ErrInvalidEvent, contentType)
	}
	return nil
}

// plainURIReference: url.Parse takes every string of letters, digits and
// -._~/ that does not begin with "//" (there is no scheme, authority, port
// or escape in it to get wrong), and every command's source is one
// ("user/alice", "gantry/scheduler"); url.Parse is asked of the rest.
func plainURIReference(s string) bool {
	if strings.HasPrefix(s, "//") {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~', c == '/':
		default:
			return false
		}
	}
	return true
}

// decodeStructuredGeneral is decodeStructured without the fast path.
func decodeStructuredGeneral(data []byte) (Envelope, error) {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if w.SpecVersion != "1.0" {
		return Envelope{}, fmt.Errorf("%w: specversion %q, want 1.0", ErrInvalidEvent, w.SpecVersion)
	}
	var missing []string
	for name, v := range map[string]string{"id": w.ID, "source": w.Source, "type": w.Type} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return Envelope{}, fmt.Errorf("%w: %s required", ErrInvalidEvent, strings.Join(missing, ", "))
	}
	if err := checkStructured(w.Source, w.DataContentType); err != nil {
		return Envelope{}, err
	}
	if w.Data == nil && w.DataBase64 != nil {
		if !json.Valid(w.DataBase64) {
			return Envelope{}, fmt.Errorf("%w: data_base64 does not hold JSON", ErrInvalidEvent)
		}
		w.Data = w.DataBase64
	}
	return Envelope{
		ID: w.ID, Source: w.Source, Type: w.Type, Subject: w.Subject, Time: w.Time,
		Actor: w.Actor, CausationID: w.CausationID, CorrelationID: w.CorrelationID, Reason: w.Reason,
		Data: w.Data,
	}, nil
}
