package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/bus"
)

// The stream protocol of logs, exec and port forwarding, over core NATS:
//
//  1. The client subscribes to an inbox of its own and sends a request
//     (LogsRequest or ExecRequest, naming the inbox) to
//     bus.AgentSubject(node, "logs"|"exec").
//  2. The agent replies with a StreamAck: an error (no such pod), or for an
//     exec with stdin the subject the client sends stdin to.
//  3. The agent publishes to the inbox messages whose Gantry-Stream header
//     says what they are: "stdout" and "stderr" carry output (at most
//     ChunkSize bytes each, in order); "ping" is a request the client
//     answers, so the agent stops streaming to a client that went away;
//     "end" closes the stream, with Gantry-Exit-Code (exec) and
//     Gantry-Error (what went wrong, if anything).
//  4. Stdin goes the other way as "stdin" messages, closed by "end".
//
// A port forward is one TCP connection to a port of the pod, dialled by the
// agent at the pod's IP: what the pod sends comes as "stdout", what the
// client sends goes as "stdin" ("end" half-closes the connection), and the
// stream ends when the pod's side does.
const (
	HeaderStream = "Gantry-Stream"
	HeaderExit   = "Gantry-Exit-Code"
	HeaderError  = "Gantry-Error"

	StreamStdout = "stdout"
	StreamStderr = "stderr"
	StreamStdin  = "stdin"
	StreamPing   = "ping"
	StreamEnd    = "end"

	ChunkSize = 32 << 10
)

// PingInterval is how often the agent checks a streaming client is there.
var PingInterval = 5 * time.Second

// LogsRequest asks for a container's log.
type LogsRequest struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container,omitempty"`
	Follow    bool   `json:"follow,omitempty"`
	Previous  bool   `json:"previous,omitempty"`
	Tail      int    `json:"tail,omitempty"`
	Inbox     string `json:"inbox"`
}

// ExecRequest asks to run a command in a running container.
type ExecRequest struct {
	Namespace string   `json:"namespace"`
	Pod       string   `json:"pod"`
	Container string   `json:"container,omitempty"`
	Command   []string `json:"command"`
	Stdin     bool     `json:"stdin,omitempty"`
	TTY       bool     `json:"tty,omitempty"`
	Inbox     string   `json:"inbox"`
}

// PortForwardRequest asks for a TCP connection to a port of a pod.
type PortForwardRequest struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Port      int    `json:"port"`
	Inbox     string `json:"inbox"`
}

// StreamAck is the agent's immediate answer to a request.
type StreamAck struct {
	Error string `json:"error,omitempty"`
	Stdin string `json:"stdin,omitempty"` // where to send stdin
}

// ErrRemote is wrapped around errors the agent reported.
var ErrRemote = errors.New("agent")

// Logs streams a container's log from the node's agent into out.
func Logs(ctx context.Context, nc *nats.Conn, node string, req LogsRequest, out io.Writer) error {
	sub, _, err := open(ctx, nc, bus.AgentSubject(node, bus.AgentLogs), &req.Inbox, &req)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	_, err = read(ctx, sub, out, out)
	return err
}

// Exec runs a command through the node's agent, copying its output (and
// stdin, when req.Stdin) and returning its exit code.
func Exec(ctx context.Context, nc *nats.Conn, node string, req ExecRequest, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	req.Stdin = req.Stdin && stdin != nil
	sub, ack, err := open(ctx, nc, bus.AgentSubject(node, bus.AgentExec), &req.Inbox, &req)
	if err != nil {
		return -1, err
	}
	defer sub.Unsubscribe()
	if req.Stdin && ack.Stdin != "" {
		go sendStdin(nc, ack.Stdin, stdin)
	}
	return read(ctx, sub, stdout, stderr)
}

// PortForward relays conn to a port of a pod through its node's agent
// until the pod's side of the connection ends (what conn sends first, then
// its end, go to the pod).
func PortForward(ctx context.Context, nc *nats.Conn, node string, req PortForwardRequest, conn io.ReadWriter) error {
	sub, ack, err := open(ctx, nc, bus.AgentSubject(node, bus.AgentPortForward), &req.Inbox, &req)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	go sendStdin(nc, ack.Stdin, conn)
	_, err = read(ctx, sub, conn, io.Discard)
	return err
}

func open(ctx context.Context, nc *nats.Conn, subject string, inbox *string, req any) (*nats.Subscription, StreamAck, error) {
	*inbox = nc.NewInbox()
	sub, err := nc.SubscribeSync(*inbox)
	if err != nil {
		return nil, StreamAck{}, err
	}
	_ = sub.SetPendingLimits(-1, 256<<20)
	body, _ := json.Marshal(req)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, subject, body)
	if errors.Is(err, nats.ErrNoResponders) {
		err = fmt.Errorf("no agent answers on %s: is the node's agent running?", subject)
	}
	var ack StreamAck
	if err == nil {
		err = json.Unmarshal(m.Data, &ack)
	}
	if err == nil && ack.Error != "" {
		err = fmt.Errorf("%w: %s", ErrRemote, ack.Error)
	}
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, ack, err
	}
	return sub, ack, nil
}

// read copies the stream until its end marker.
func read(ctx context.Context, sub *nats.Subscription, stdout, stderr io.Writer) (int, error) {
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return -1, err
		}
		switch m.Header.Get(HeaderStream) {
		case StreamStdout:
			if _, err := stdout.Write(m.Data); err != nil {
				return -1, err
			}
		case StreamStderr:
			if _, err := stderr.Write(m.Data); err != nil {
				return -1, err
			}
		case StreamPing:
			_ = m.Respond(nil)
		case StreamEnd:
			code := -1
			if c := m.Header.Get(HeaderExit); c != "" {
				code, _ = strconv.Atoi(c)
			}
			if e := m.Header.Get(HeaderError); e != "" {
				return code, fmt.Errorf("%w: %s", ErrRemote, e)
			}
			return code, nil
		}
	}
}

func sendStdin(nc *nats.Conn, subject string, in io.Reader) {
	buf := make([]byte, ChunkSize)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			m := nats.NewMsg(subject)
			m.Header.Set(HeaderStream, StreamStdin)
			m.Data = append([]byte(nil), buf[:n]...)
			if nc.PublishMsg(m) != nil {
				return
			}
		}
		if err != nil {
			break
		}
	}
	m := nats.NewMsg(subject)
	m.Header.Set(HeaderStream, StreamEnd)
	_ = nc.PublishMsg(m)
	_ = nc.Flush()
}

// streamWriter publishes what is written as chunks of one stream.
type streamWriter struct {
	nc     *nats.Conn
	inbox  string
	stream string
}

func (s streamWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += ChunkSize {
		m := nats.NewMsg(s.inbox)
		m.Header.Set(HeaderStream, s.stream)
		m.Data = append([]byte(nil), p[off:min(off+ChunkSize, len(p))]...)
		if err := s.nc.PublishMsg(m); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// end closes a stream with an exit code (exec) and an error, if any.
func end(nc *nats.Conn, inbox string, code *int, err error) {
	m := nats.NewMsg(inbox)
	m.Header.Set(HeaderStream, StreamEnd)
	if code != nil {
		m.Header.Set(HeaderExit, strconv.Itoa(*code))
	}
	if err != nil {
		m.Header.Set(HeaderError, err.Error())
	}
	_ = nc.PublishMsg(m)
	_ = nc.Flush()
}
