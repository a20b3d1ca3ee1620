package dashboard_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/dashboard"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// controlPlane runs a control plane (without the "default" namespace)
// and the dashboard on a real embedded JetStream, and returns the
// dashboard and a client that speaks as alice.
func controlPlane(t *testing.T) (*httptest.Server, *bus.Client, *projections.View) {
	t.Helper()
	c := projtest.Start(t, projtest.Options{NoDefaultNamespace: true})
	dash, err := dashboard.New(dashboard.Options{View: c.View, Store: c.Store, Kinds: aggregates.Builtin(), Sealer: c.Sealer})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dash.Handler())
	t.Cleanup(func() { // before the control plane stops
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv, bus.NewClient(c.Conn, bus.Identity{Source: "user/alice", Actor: "alice"}), c.View
}

func do(t *testing.T, c *bus.Client, view *projections.View, kind, verb, reason string, cmd aggregates.Command) bus.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var r bus.Reply
	var err error
	for i := 0; i < 50; i++ { // the command service may still be subscribing
		if r, err = c.Do(ctx, kind, verb, cmd, bus.CommandMeta{Reason: reason}); err == nil || !strings.Contains(err.Error(), "nothing answers") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s %s %s: %v", verb, kind, cmd.Name, err)
	}
	if err := view.WaitFor(ctx, r.Seq); err != nil {
		t.Fatal(err)
	}
	return r
}

func fetch(t *testing.T, srv *httptest.Server, path string) string {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d: %s", path, resp.StatusCode, body)
	}
	return string(body)
}

const (
	deployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"nginx:1"}]}}}}`
	password = "correct-horse-battery-staple"
)

// TestDashboardOnControlPlane: commands sent to a real control plane show
// on the pages and the API, with who and why; a past view shows the old
// state; the live feed delivers a new event; a Secret's value never shows.
func TestDashboardOnControlPlane(t *testing.T) {
	srv, client, view := controlPlane(t)
	do(t, client, view, "namespace", "create", "bootstrap", aggregates.Command{Name: "default", Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`)})
	created := do(t, client, view, "deployment", "create", "first release", aggregates.Command{Namespace: "default", Name: "web", Object: []byte(deployment)})
	time.Sleep(20 * time.Millisecond) // distinct stream timestamps around the cut
	cut := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	five := int32(5)
	do(t, client, view, "deployment", "scale", "black friday", aggregates.Command{Namespace: "default", Name: "web", Replicas: &five})
	secret := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"password":"` + password + `"}}`
	do(t, client, view, "secret", "apply", "db password", aggregates.Command{Namespace: "default", Name: "db", Object: []byte(secret)})
	do(t, client, view, "secret", "apply", "rotate", aggregates.Command{Namespace: "default", Name: "db", Object: []byte(strings.Replace(secret, password, password+"-2", 1))})

	var now dashboard.ObjectPage
	if err := json.Unmarshal([]byte(fetch(t, srv, "/api/objects/deployment/default/web")), &now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(now.YAML, "replicas: 5") || len(now.History) != 2 {
		t.Fatalf("now: %d events, YAML:\n%s", len(now.History), now.YAML)
	}
	scaled := now.History[1]
	if scaled.Who != "alice" || scaled.Reason != "black friday" || scaled.Verb != "scaled" {
		t.Fatalf("the scale event: %+v", scaled)
	}
	page := fetch(t, srv, "/objects/deployment/default/web")
	for _, want := range []string{"replicas: 5", "alice", "black friday", "first release", "scaled"} {
		if !strings.Contains(page, want) {
			t.Errorf("the object page does not show %q", want)
		}
	}

	for _, at := range []string{fmt.Sprint(created.Seq), cut.Format(time.RFC3339Nano)} {
		var past dashboard.ObjectPage
		if err := json.Unmarshal([]byte(fetch(t, srv, "/api/objects/deployment/default/web?at="+at)), &past); err != nil {
			t.Fatal(err)
		}
		if !past.View.Past || past.View.Seq != created.Seq || !strings.Contains(past.YAML, "replicas: 1") {
			t.Fatalf("as of %s: seq %d, YAML:\n%s", at, past.View.Seq, past.YAML)
		}
		if p := fetch(t, srv, "/kinds/deployment?at="+at); !strings.Contains(p, "Past view.") {
			t.Errorf("the kind page as of %s is not marked as the past", at)
		}
	}

	// The live feed: a new event arrives with who and why.
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, srv.URL+"/api/events/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // "retry: …": the stream is open
	two := int32(2)
	do(t, client, view, "deployment", "scale", "calm again", aggregates.Command{Namespace: "default", Name: "web", Replicas: &two})
	live := false
	for !live && lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			var e dashboard.Event
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Fatal(err)
			}
			if e.Reason != "calm again" || e.Who != "alice" || e.Name != "web" {
				t.Fatalf("live event: %+v", e)
			}
			live = true
		}
	}
	if !live {
		t.Fatalf("no live event: %v", lines.Err())
	}

	var s dashboard.ObjectPage
	if err := json.Unmarshal([]byte(fetch(t, srv, "/api/objects/secret/default/db")), &s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.YAML, "password: (hidden, 30 bytes)") {
		t.Fatalf("the secret's keys do not show: %s", s.YAML)
	}
	forbidden := []string{password, base64.StdEncoding.EncodeToString([]byte(password)), base64.StdEncoding.EncodeToString([]byte(password + "-2"))}
	for _, path := range []string{"/", "/api/overview", "/api/events", "/kinds/secret", "/api/kinds/secret",
		"/objects/secret/default/db", "/api/objects/secret/default/db", "/api/objects/secret/default/db?at=" + fmt.Sprint(created.Seq+2)} {
		body := fetch(t, srv, path)
		for _, f := range forbidden {
			if strings.Contains(body, f) {
				t.Errorf("%s shows the secret's value", path)
			}
		}
	}
}
