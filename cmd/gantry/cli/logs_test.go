package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// TestLogsOfWorkloadsAndSelectors: logs of a deployment are one of its
// pods' (kubectl's note on stderr), -l prints every matching pod's, with
// --prefix each whole line marked with its pod and container. The node's
// agent is a stand-in answering the protocol on the bus (agentd's tests
// read real containers' logs).
func TestLogsOfWorkloadsAndSelectors(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("deployment", "default", "web", deploymentManifest("web", 2))
	for _, name := range []string{"web-b", "web-a", "other"} {
		app := "web"
		if name == "other" {
			app = "db"
		}
		applyBoundPod(c, name, "c", map[string]string{"app": app})
	}
	sub, err := c.Conn.NC.Subscribe(bus.AgentSubject("n1", bus.AgentLogs), func(m *nats.Msg) {
		var req agent.LogsRequest
		_ = json.Unmarshal(m.Data, &req)
		_ = m.Respond([]byte(`{}`))
		for _, chunk := range []string{"hel", "lo from " + req.Pod + "\nbye\n"} { // a line cut in two
			out := nats.NewMsg(req.Inbox)
			out.Header.Set(agent.HeaderStream, agent.StreamStdout)
			out.Data = []byte(chunk)
			_ = c.Conn.NC.PublishMsg(out)
		}
		end := nats.NewMsg(req.Inbox)
		end.Header.Set(agent.HeaderStream, agent.StreamEnd)
		_ = c.Conn.NC.PublishMsg(end)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	for _, tc := range []struct {
		args        []string
		out, stderr string
	}{
		{[]string{"logs", "deployment/web"}, "hello from web-a\nbye\n", "Found 2 pods, using pod/web-a\n"},
		{[]string{"logs", "pod/other"}, "hello from other\nbye\n", ""},
		{[]string{"logs", "-l", "app=web", "--prefix"}, "[pod/web-a/c] hello from web-a\n[pod/web-a/c] bye\n[pod/web-b/c] hello from web-b\n[pod/web-b/c] bye\n", ""},
		{[]string{"logs", "web-a", "-l", "app=web"}, "", "error: logs: name a pod (or KIND/NAME), or select pods with -l, not both\n"},
		{[]string{"logs", "-l", "app=none"}, "", "error: no pod bound to a node matches app=none in namespace default\n"},
	} {
		out, errOut := gantryOn(c, tc.args...)
		if out != tc.out || errOut != tc.stderr {
			t.Errorf("gantry %s:\n got %q %q\nwant %q %q", strings.Join(tc.args, " "), out, errOut, tc.out, tc.stderr)
		}
	}
}
