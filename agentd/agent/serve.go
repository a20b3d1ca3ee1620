package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/bus"
)

// serve answers logs, exec and port-forward requests for this node's pods.
func (a *Agent) serve(ctx context.Context) error {
	nc := a.conn.NC
	handlers := map[string]func(context.Context, *nats.Msg){bus.AgentLogs: a.handleLogs, bus.AgentExec: a.handleExec, bus.AgentPortForward: a.handlePortForward}
	var subs []*nats.Subscription
	for verb, h := range handlers {
		sub, err := nc.Subscribe(bus.AgentSubject(a.cfg.NodeName, verb), func(m *nats.Msg) { go h(ctx, m) })
		if err != nil {
			return fmt.Errorf("agent: serve %s: %w", verb, err)
		}
		subs = append(subs, sub)
	}
	<-ctx.Done()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	return nil
}

func (a *Agent) handleLogs(ctx context.Context, m *nats.Msg) {
	var req LogsRequest
	if !a.decode(m, &req) {
		return
	}
	uid, container, ok := a.accept(m, req.Namespace, req.Pod, req.Container, true)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.keepalive(ctx, cancel, req.Inbox)
	opts := runtime.LogOptions{Follow: req.Follow, Previous: req.Previous, Tail: req.Tail}
	err := a.rt.Logs(ctx, uid, container, opts, streamWriter{nc: a.conn.NC, inbox: req.Inbox, stream: StreamStdout})
	end(a.conn.NC, req.Inbox, nil, err)
}

func (a *Agent) handleExec(ctx context.Context, m *nats.Msg) {
	var req ExecRequest
	if !a.decode(m, &req) {
		return
	}
	uid, container, ok := a.accept(m, req.Namespace, req.Pod, req.Container, false) // an exec's ack says where its stdin goes
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := runtime.ExecOptions{Cmd: req.Command, TTY: req.TTY,
		Stdout: streamWriter{nc: a.conn.NC, inbox: req.Inbox, stream: StreamStdout},
		Stderr: streamWriter{nc: a.conn.NC, inbox: req.Inbox, stream: StreamStderr}}
	ack := StreamAck{}
	if req.Stdin {
		pr, pw := io.Pipe()
		sub, err := a.stdin(&ack, pw.Write, pw.Close)
		if err != nil {
			a.reply(m, StreamAck{Error: err.Error()})
			return
		}
		defer sub.Unsubscribe()
		defer pw.Close()
		opts.Stdin = pr
	}
	a.reply(m, ack)
	go a.keepalive(ctx, cancel, req.Inbox)
	code, err := a.rt.Exec(ctx, uid, container, opts)
	end(a.conn.NC, req.Inbox, &code, err)
}

// stdin subscribes to a new inbox, named in ack, that hands what a client
// streams to write, and its end to end.
func (a *Agent) stdin(ack *StreamAck, write func([]byte) (int, error), end func() error) (*nats.Subscription, error) {
	ack.Stdin = a.conn.NC.NewInbox()
	return a.conn.NC.Subscribe(ack.Stdin, func(sm *nats.Msg) {
		if sm.Header.Get(HeaderStream) == StreamEnd {
			_ = end()
			return
		}
		_, _ = write(sm.Data)
	})
}

// handlePortForward relays one TCP connection to a port of one of this
// node's pods, dialled at the pod's IP as the node knows it (never an
// address the client names).
func (a *Agent) handlePortForward(ctx context.Context, m *nats.Msg) {
	var req PortForwardRequest
	if !a.decode(m, &req) {
		return
	}
	w, ok := a.find(m, req.Namespace, req.Pod)
	if !ok {
		return
	}
	pod, _ := w.snapshot()
	switch {
	case req.Port < 1 || req.Port > 65535:
		a.reply(m, StreamAck{Error: fmt.Sprintf("port %d: want 1 to 65535", req.Port)})
		return
	case pod.Status.PodIP == "":
		a.reply(m, StreamAck{Error: fmt.Sprintf("pod %s/%s has no IP yet", req.Namespace, req.Pod)})
		return
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(req.Port)))
	if err != nil {
		a.reply(m, StreamAck{Error: fmt.Sprintf("pod %s/%s port %d: %v", req.Namespace, req.Pod, req.Port, err)})
		return
	}
	defer conn.Close()
	var ack StreamAck
	sub, err := a.stdin(&ack, conn.Write, conn.(*net.TCPConn).CloseWrite)
	if err != nil {
		a.reply(m, StreamAck{Error: err.Error()})
		return
	}
	defer sub.Unsubscribe()
	a.reply(m, ack)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.keepalive(ctx, cancel, req.Inbox)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() }) // the client went away: unblock the copy
	defer stop()
	_, err = io.Copy(streamWriter{nc: a.conn.NC, inbox: req.Inbox, stream: StreamStdout}, conn)
	if ctx.Err() != nil {
		err = nil // ended by the client
	}
	end(a.conn.NC, req.Inbox, nil, err)
}

// decode reads a request into req; when it cannot, it tells the client
// why.
func (a *Agent) decode(m *nats.Msg, req any) bool {
	if err := json.Unmarshal(m.Data, req); err != nil {
		a.reply(m, StreamAck{Error: "bad request: " + err.Error()})
		return false
	}
	return true
}

// find finds the pod a request names on this node; when it cannot, it
// tells the client why.
func (a *Agent) find(m *nats.Msg, ns, name string) (*podWorker, bool) {
	w, found := a.lookup(ns, name)
	if !found {
		a.reply(m, StreamAck{Error: fmt.Sprintf("pod %s/%s is not running on node %s", ns, name, a.cfg.NodeName)})
	}
	return w, found
}

// accept finds a request's pod and container (default: the first) and,
// when ack, acknowledges it.
func (a *Agent) accept(m *nats.Msg, ns, name, container string, ack bool) (uid, ctr string, ok bool) {
	w, found := a.find(m, ns, name)
	if !found {
		return "", "", false
	}
	if container == "" {
		pod, _ := w.snapshot()
		container = pod.Spec.Containers[0].Name
	}
	if ack {
		a.reply(m, StreamAck{})
	}
	return w.uid, container, true
}

func (a *Agent) reply(m *nats.Msg, ack StreamAck) {
	b, _ := json.Marshal(ack)
	_ = m.Respond(b)
}

// keepalive pings the client and cancels the stream once it is gone.
func (a *Agent) keepalive(ctx context.Context, cancel context.CancelFunc, inbox string) {
	for sleepCtx(ctx, PingInterval) {
		m := nats.NewMsg(inbox)
		m.Header.Set(HeaderStream, StreamPing)
		if _, err := a.conn.NC.RequestMsg(m, PingInterval); err != nil && ctx.Err() == nil {
			a.cfg.Log.Info("agent: stream client gone", "inbox", inbox, "err", err)
			cancel()
			return
		}
	}
}
