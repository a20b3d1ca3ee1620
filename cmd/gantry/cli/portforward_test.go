package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections/projtest"
)

func TestParseForwards(t *testing.T) {
	got, err := parseForwards([]string{"8080", "9000:80", ":443"})
	if want := []forward{{8080, 8080}, {9000, 80}, {0, 443}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
	for _, bad := range []string{"0", "http", "1:99999", "-1:80", "a:80"} {
		if _, err := parseForwards([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestPortForwardRelaysConnections: port-forward listens on a free local
// port and relays each connection through the pod's node's agent (here a
// stand-in answering the agent protocol on the bus, upper-casing what it
// gets; agentd's tests forward to a real pod).
func TestPortForwardRelaysConnections(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	applyBoundPod(c, "web", "web", nil)
	fakeAgent(t, c, "n1")

	out := &watchOutput{}
	g := &globals{out: out, err: out, server: c.Server.ClientURL(), kinds: aggregates.Builtin()}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := portForwardCmd(g)
	cmd.SetArgs([]string{"pod/web", ":8080"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("port-forward: %v", err)
		}
	})
	out.waitFor(t, `Forwarding from 127\.0\.0\.1:\d+ -> 8080`)
	addr := regexp.MustCompile(`127\.0\.0\.1:\d+`).FindString(out.String())
	for _, msg := range []string{"hello", "again"} {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || string(got) != strings.ToUpper(msg) {
			t.Fatalf("through the forward: %q %v, want %q", got, err, strings.ToUpper(msg))
		}
	}
}

// applyBoundPod applies a pod of one container already bound to node n1
// (no scheduler runs in these tests).
func applyBoundPod(c *projtest.Cluster, name, container string, labels map[string]string) {
	meta := map[string]any{"name": name, "namespace": "default"}
	if labels != nil {
		meta["labels"] = labels
	}
	c.Apply("pod", "default", name, map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta,
		"spec": map[string]any{"nodeName": "n1", "containers": []any{map[string]any{"name": container, "image": "busybox"}}}})
}

// fakeAgent answers port-forward requests for node on the bus: it reads
// the client's stream to its end and sends it back upper-cased.
func fakeAgent(t *testing.T, c *projtest.Cluster, node string) {
	nc := c.Conn.NC
	sub, err := nc.Subscribe(bus.AgentSubject(node, bus.AgentPortForward), func(m *nats.Msg) {
		var req agent.PortForwardRequest
		if json.Unmarshal(m.Data, &req) != nil || req.Namespace != "default" || req.Pod != "web" || req.Port != 8080 {
			_ = m.Respond([]byte(`{"error":"unexpected request"}`))
			return
		}
		stdin := nc.NewInbox()
		var got bytes.Buffer
		var in *nats.Subscription
		in, _ = nc.Subscribe(stdin, func(sm *nats.Msg) {
			if sm.Header.Get(agent.HeaderStream) != agent.StreamEnd {
				got.Write(sm.Data)
				return
			}
			_ = in.Unsubscribe()
			reply := nats.NewMsg(req.Inbox)
			reply.Header.Set(agent.HeaderStream, agent.StreamStdout)
			reply.Data = bytes.ToUpper(got.Bytes())
			end := nats.NewMsg(req.Inbox)
			end.Header.Set(agent.HeaderStream, agent.StreamEnd)
			_ = nc.PublishMsg(reply)
			_ = nc.PublishMsg(end)
		})
		ack, _ := json.Marshal(agent.StreamAck{Stdin: stdin})
		_ = m.Respond(ack)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}
