package cli

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// TestCopyToAndFromAContainer: cp packs and unpacks the tar stream the
// container's tar reads and writes. The node's agent is a stand-in that
// runs the requested tar on this machine under a directory standing for
// the container's root (agentd's tests exec in real containers).
func TestCopyToAndFromAContainer(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	applyBoundPod(c, "web", "web", nil)
	root := t.TempDir() // the container's /
	execAgent(t, c, "n1", root)

	local := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(local, "site", "css"), 0o755))
	must(os.WriteFile(filepath.Join(local, "site", "index.html"), []byte("<h1>hi</h1>"), 0o644))
	must(os.WriteFile(filepath.Join(local, "site", "css", "a.css"), []byte("h1{}"), 0o600))
	must(os.MkdirAll(filepath.Join(root, "www"), 0o755))

	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"cp", filepath.Join(local, "site"), "web:/www/html"}, ""},
		{[]string{"cp", "default/web:/www/html/index.html", filepath.Join(local, "copy.html")}, ""},
		{[]string{"cp", "web:/www/html", local}, ""}, // into a directory: as local/html
		{[]string{"cp", "web:/nope", local}, "error: cp: tar in web/web exited 2: "},
		{[]string{"cp", local, filepath.Join(local, "x")}, "error: cp: one side is POD:PATH, the other a local path\n"},
	} {
		out, errOut := gantryOn(c, tc.args...)
		if out != "" || tc.err == "" && errOut != "" || tc.err != "" && !strings.HasPrefix(errOut, tc.err) {
			t.Fatalf("gantry %s: %q %q, want the error %q", strings.Join(tc.args, " "), out, errOut, tc.err)
		}
	}
	for file, want := range map[string]string{
		filepath.Join(root, "www", "html", "index.html"):   "<h1>hi</h1>",
		filepath.Join(root, "www", "html", "css", "a.css"): "h1{}",
		filepath.Join(local, "copy.html"):                  "<h1>hi</h1>",
		filepath.Join(local, "html", "css", "a.css"):       "h1{}",
	} {
		if got, err := os.ReadFile(file); err != nil || string(got) != want {
			t.Errorf("%s: %q %v, want %q", file, got, err, want)
		}
	}
	if info, err := os.Stat(filepath.Join(local, "html", "css", "a.css")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("a.css's mode: %v %v, want 0600", info, err)
	}
}

// TestUntarRefusesEntriesOutsideTheTarget: an archive from a container is
// not trusted to stay where it was asked for.
func TestUntarRefusesEntriesOutsideTheTarget(t *testing.T) {
	for _, name := range []string{"../evil", "site/../../evil", "/etc/evil", "sitex/evil"} {
		var archive bytes.Buffer
		tw := tar.NewWriter(&archive)
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte("x"))
		_ = tw.Close()
		target := filepath.Join(t.TempDir(), "out")
		if err := untar(&archive, "site", target); err == nil || !strings.Contains(err.Error(), "is outside site") {
			t.Errorf("entry %q: %v", name, err)
		}
	}
}

// execAgent answers exec requests for node by running the command here,
// with tar's -C directory under root.
func execAgent(t *testing.T, c *projtest.Cluster, node, root string) {
	nc := c.Conn.NC
	sub, err := nc.Subscribe(bus.AgentSubject(node, bus.AgentExec), func(m *nats.Msg) {
		var req agent.ExecRequest
		_ = json.Unmarshal(m.Data, &req)
		args := append([]string(nil), req.Command...)
		for i := range args {
			if i > 0 && args[i-1] == "-C" {
				args[i] = filepath.Join(root, args[i])
			}
		}
		cmd := exec.Command(args[0], args[1:]...)
		var ack agent.StreamAck
		if req.Stdin {
			pr, pw := io.Pipe()
			ack.Stdin = nc.NewInbox()
			_, _ = nc.Subscribe(ack.Stdin, func(sm *nats.Msg) {
				if sm.Header.Get(agent.HeaderStream) == agent.StreamEnd {
					pw.Close()
					return
				}
				_, _ = pw.Write(sm.Data)
			})
			cmd.Stdin = pr
		}
		raw, _ := json.Marshal(ack)
		_ = m.Respond(raw)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := 0
		if err := cmd.Run(); err != nil {
			code = cmd.ProcessState.ExitCode()
		}
		for stream, b := range map[string][]byte{agent.StreamStdout: stdout.Bytes(), agent.StreamStderr: stderr.Bytes()} {
			out := nats.NewMsg(req.Inbox)
			out.Header.Set(agent.HeaderStream, stream)
			out.Data = b
			_ = nc.PublishMsg(out)
		}
		end := nats.NewMsg(req.Inbox)
		end.Header.Set(agent.HeaderStream, agent.StreamEnd)
		end.Header.Set(agent.HeaderExit, strconv.Itoa(code))
		_ = nc.PublishMsg(end)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

// TestExecExitsWithTheCommandsCode: gantry exec's exit code is the
// command's, its output passed through, with no error line of its own.
func TestExecExitsWithTheCommandsCode(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	applyBoundPod(c, "web", "web", nil)
	execAgent(t, c, "n1", t.TempDir())
	var out, errOut bytes.Buffer
	code := Main([]string{"--server", c.Server.ClientURL(), "exec", "web", "--", "sh", "-c", "echo hi; exit 3"}, nil, &out, &errOut)
	if code != 3 || out.String() != "hi\n" || errOut.String() != "" {
		t.Errorf("exec: code %d, out %q, err %q; want 3, \"hi\\n\", nothing", code, out.String(), errOut.String())
	}
}
