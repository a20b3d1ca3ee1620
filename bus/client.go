package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
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

func init() {
	// Every command and every event gets a random (version 4) id, and reading
	// 16 bytes from the kernel for each cost more than the rest of making the
	// envelope. The pool reads them in batches. The ids identify, they
	// protect nothing, so batches kept on the heap are no exposure.
	uuid.EnableRandPool()
}

// Identity says who sends commands: the CloudEvent source and actor.
type Identity struct {
	Source string // "user/alice", "gantry/scheduler"
	Actor  string // the authenticated identity
}

// Client sends commands and queries.
type Client struct {
	nc      *nats.Conn
	id      Identity
	timeout time.Duration
}

// NewClient makes a client that speaks as id.
func NewClient(c *Conn, id Identity) *Client {
	if id.Actor == "" {
		id.Actor = id.Source
	}
	return &Client{nc: c.NC, id: id, timeout: 30 * time.Second}
}

// CommandMeta is the optional context of a command.
type CommandMeta struct {
	Reason        string // why, in the sender's words
	CausationID   string // the event or command that led to this one
	CorrelationID string // the user request this belongs to
	// DryRun asks for the decision only: the reply says what the command
	// would do, and nothing is appended or recorded (DryRunHeader).
	DryRun bool
	// WantObject asks for the object in the reply (Reply.Object), as the
	// command left it; without it (and without DryRun) the service leaves
	// it out (OmitObjectHeader).
	WantObject bool
}

// Do sends one command as a CloudEvent and waits for its reply. A refusal
// is returned as a Kubernetes status error (apierrors.IsConflict, …).
func (c *Client) Do(ctx context.Context, kind, verb string, data any, meta CommandMeta) (Reply, error) {
	body, err := marshalData(data)
	if err != nil {
		return Reply{}, fmt.Errorf("bus: %s %s: %w", verb, kind, err)
	}
	env := Envelope{
		ID: uuid.NewString(), Source: c.id.Source, Type: CommandType(kind, verb), Time: time.Now().UTC(),
		Actor: c.id.Actor, Reason: meta.Reason, CausationID: meta.CausationID, CorrelationID: meta.CorrelationID,
		Data: body,
	}
	raw, err := env.Marshal()
	if err != nil {
		return Reply{}, err
	}
	msg := &nats.Msg{Subject: CommandSubject(kind, verb), Data: raw, Header: nats.Header{"Content-Type": {ContentType}}}
	if k, ok := data.(interface{ ObjectKey() string }); ok {
		msg.Header[ObjectHeader] = []string{k.ObjectKey()}
	}
	switch {
	case meta.DryRun:
		msg.Header[DryRunHeader] = []string{"true"}
	case !meta.WantObject:
		msg.Header[OmitObjectHeader] = []string{"true"}
	}
	answer, err := c.requestMsg(ctx, msg)
	if err != nil {
		return Reply{}, err
	}
	var r Reply
	if err := decodeReply(answer, &r); err != nil {
		return Reply{}, fmt.Errorf("bus: %s reply: %w", msg.Subject, err)
	}
	return r, r.Err()
}

// marshalData writes a command's data: through its own AppendJSON when it
// has one and is sure of it (aggregates.Command), else encoding/json.
func marshalData(data any) ([]byte, error) {
	if a, ok := data.(interface{ AppendJSON([]byte) ([]byte, bool) }); ok {
		if body, ok := a.AppendJSON(nil); ok {
			return body, nil
		}
	}
	return json.Marshal(data)
}

// decodeReply reads a command's reply. Its usual shape (seq, event,
// unchanged and the object, every key exact, as marshalReply writes it)
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
			if v[0] < '0' || v[0] > '9' {
				return false
			}
			n, err := strconv.ParseUint(string(v), 10, 64)
			r.Seq = n
			return err == nil
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

// Query asks the query service and decodes its answer into out.
func (c *Client) Query(ctx context.Context, verb string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("bus: query %s: %w", verb, err)
	}
	return c.request(ctx, QuerySubject(verb), body, out)
}

// QueryError is how the query service reports a failure.
type QueryError struct {
	Error *metav1.Status `json:"error,omitempty"`
}

func (c *Client) request(ctx context.Context, subject string, body []byte, out any) error {
	data, err := c.requestMsg(ctx, &nats.Msg{Subject: subject, Data: body})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("bus: %s reply: %w", subject, err)
	}
	return nil
}

// requestMsg sends req and returns the answer's data, or the error a query
// service answered with.
func (c *Client) requestMsg(ctx context.Context, req *nats.Msg) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	subject := req.Subject
	msg, err := c.nc.RequestMsgWithContext(ctx, req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("bus: nothing answers on %s: is `gantry up` running? %w", subject, err)
	}
	if err != nil {
		return nil, fmt.Errorf("bus: %s: %w", subject, err)
	}
	if bytes.HasPrefix(msg.Data, []byte(`{"error":`)) { // a QueryError; anything else is the answer
		var qe QueryError
		if json.Unmarshal(msg.Data, &qe) == nil && qe.Error != nil {
			return nil, &apierrors.StatusError{ErrStatus: *qe.Error}
		}
	}
	return msg.Data, nil
}

// SubscribeEvents calls fn for every event appended from now on (core NATS,
// no replay); Unsubscribe the result to stop.
func SubscribeEvents(c *Conn, fn func(Envelope)) (*nats.Subscription, error) {
	return c.NC.Subscribe(AllEvents, func(m *nats.Msg) {
		e, err := UnmarshalEnvelope(m.Data)
		if err != nil {
			return
		}
		e.StreamSubject = m.Subject
		fn(e)
	})
}
