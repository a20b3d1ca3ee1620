package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

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
	// command left it (WantObjectHeader); without it (and without DryRun)
	// the service leaves it out.
	WantObject bool
}

// Do sends one command as a CloudEvent and waits for its reply. A refusal
// is returned as a Kubernetes status error (apierrors.IsConflict, …).
func (c *Client) Do(ctx context.Context, kind, verb string, data any, meta CommandMeta) (Reply, error) {
	bodyBuf, rawBuf := borrow(), borrow()
	defer giveBack(bodyBuf)
	defer giveBack(rawBuf)
	body, err := appendData(*bodyBuf, data)
	if err != nil {
		return Reply{}, fmt.Errorf("bus: %s %s: %w", verb, kind, err)
	}
	*bodyBuf = body
	env := Envelope{
		ID: uuid.NewString(), Source: c.id.Source, Type: CommandType(kind, verb), Time: time.Now().UTC(),
		Actor: c.id.Actor, Reason: meta.Reason, CausationID: meta.CausationID, CorrelationID: meta.CorrelationID,
		Data: body,
	}
	if k, ok := data.(interface{ ObjectKey() string }); ok {
		env.Subject = k.ObjectKey() // what the command is about, as an event's subject says
	}
	raw, err := env.appendTo(*rawBuf, true) // appendData wrote valid JSON
	if err != nil {
		return Reply{}, err
	}
	*rawBuf = raw
	// No headers unless the command asks for something: the body is a
	// structured CloudEvent without them.
	msg := &nats.Msg{Subject: CommandSubject(kind, verb), Data: raw}
	switch {
	case meta.DryRun:
		msg.Header = nats.Header{DryRunHeader: {"true"}}
	case meta.WantObject:
		msg.Header = nats.Header{WantObjectHeader: {"true"}}
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

// appendData appends a command's data to out: through its own AppendJSON
// when it has one and is sure of it (aggregates.Command), else
// encoding/json.
func appendData(out []byte, data any) ([]byte, error) {
	if a, ok := data.(interface{ AppendJSON([]byte) ([]byte, bool) }); ok {
		if body, ok := a.AppendJSON(out); ok {
			return body, nil
		}
	}
	b, err := json.Marshal(data)
	return append(out, b...), err
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
	subject := req.Subject
	msg, err := c.send(ctx, req)
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

// send requests req within ctx, or within the client's timeout when ctx
// has no deadline. A context that can never end (context.Background())
// waits on nats.go's pooled timer instead of a context and timer of its
// own, made and cancelled for each request.
func (c *Client) send(ctx context.Context, req *nats.Msg) (*nats.Msg, error) {
	if _, ok := ctx.Deadline(); ok {
		return c.nc.RequestMsgWithContext(ctx, req)
	}
	if ctx.Done() == nil {
		m, err := c.nc.RequestMsg(req, c.timeout)
		if errors.Is(err, nats.ErrTimeout) { // as a context's timeout would end it
			return nil, fmt.Errorf("%w after %s", context.DeadlineExceeded, c.timeout)
		}
		return m, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.nc.RequestMsgWithContext(ctx, req)
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
