package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding/format"
	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
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

// ParseEventType splits "dev.gantry.<kind>.<verb>.v<N>" into its parts.
func ParseEventType(t string) (kind, verb, version string, err error) {
	p := strings.Split(t, ".")
	if len(p) != 5 || p[0] != "dev" || p[1] != "gantry" || !strings.HasPrefix(p[4], "v") {
		return "", "", "", fmt.Errorf("%w: type %q is not dev.gantry.<kind>.<verb>.v<N>", ErrInvalidEvent, t)
	}
	return p[2], p[3], p[4], nil
}

// Marshal encodes the envelope as a structured-mode CloudEvent with the
// CloudEvents SDK, so what Gantry writes is what any SDK reads.
func (e Envelope) Marshal() ([]byte, error) {
	ce := cloudevents.New()
	ce.SetID(e.ID)
	ce.SetSource(e.Source)
	ce.SetType(e.Type)
	ce.SetSubject(e.Subject)
	ce.SetTime(e.Time)
	for name, v := range map[string]string{ExtActor: e.Actor, ExtCausationID: e.CausationID, ExtCorrelationID: e.CorrelationID, ExtReason: e.Reason} {
		if v != "" {
			ce.SetExtension(name, v)
		}
	}
	if len(e.Data) > 0 {
		// A json.RawMessage (not []byte, which the SDK writes as data_base64)
		// keeps the data readable JSON in the stream.
		if err := ce.SetData("application/json", e.Data); err != nil {
			return nil, fmt.Errorf("bus: event %s data: %w", e.ID, err)
		}
	}
	if err := ce.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return format.JSON.Marshal(&ce)
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

// UnmarshalEnvelope decodes a structured CloudEvent written by Marshal.
func UnmarshalEnvelope(data []byte) (Envelope, error) {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
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

// DecodeCloudEvent reads a CloudEvent from any producer, in structured mode
// (the body is the event) or binary mode (ce-* headers, the body is the
// data), and validates it against the CloudEvents 1.0 rules through the SDK.
func DecodeCloudEvent(data []byte, h nats.Header) (Envelope, error) {
	ce := cloudevents.New()
	if h.Get("ce-specversion") != "" {
		if err := fromBinary(&ce, data, h); err != nil {
			return Envelope{}, err
		}
	} else if err := json.Unmarshal(data, &ce); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
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
