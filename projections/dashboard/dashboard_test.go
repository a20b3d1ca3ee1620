package dashboard

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// memStore is an event store in memory: the events given, in order.
type memStore struct{ events []bus.Envelope }

func (m *memStore) Head(context.Context) (uint64, time.Time, error) {
	if len(m.events) == 0 {
		return 0, time.Time{}, nil
	}
	last := m.events[len(m.events)-1]
	return last.Seq, last.Stored, nil
}

func (m *memStore) Replay(_ context.Context, _ []string, from, upTo uint64, fn func(bus.Envelope) error) error {
	for _, e := range m.events {
		if e.Seq >= from && e.Seq <= upTo {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memStore) Load(_ context.Context, subject string, after uint64) ([]bus.Envelope, error) {
	var out []bus.Envelope
	for _, e := range m.events {
		if e.StreamSubject == subject && e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) SeqAt(_ context.Context, t time.Time) (uint64, error) {
	i := sort.Search(len(m.events), func(i int) bool { return m.events[i].Stored.After(t) })
	if i == 0 {
		return 0, nil
	}
	return m.events[i-1].Seq, nil
}

var epoch = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// add appends an event as the command service would have stored it.
func (m *memStore) add(kind, ns, name, verb, actor, reason, data string) {
	seq := uint64(len(m.events) + 1)
	m.events = append(m.events, bus.Envelope{
		ID: "ev-" + string(rune('a'+seq)), Source: "gantry/test", Type: bus.EventType(kind, verb),
		Subject: kind + "/" + ns + "/" + name, Time: epoch.Add(time.Duration(seq) * time.Minute),
		Actor: actor, Reason: reason, Data: json.RawMessage(data),
		Seq: seq, Stored: epoch.Add(time.Duration(seq) * time.Minute), StreamSubject: bus.EventSubject(kind, ns, name),
	})
}

const secretValue = "correct-horse-battery-staple"

// fixture is a small cluster told as events: a namespace, a deployment
// scaled from 1 to 3, a running pod on a node, a service, a secret.
func fixture(t *testing.T) (*httptest.Server, *memStore) {
	t.Helper()
	m := &memStore{}
	m.add("namespace", "", "default", "created", "gantry/up", "cluster bootstrap",
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","creationTimestamp":"2026-11-21T10:01:00Z"}}`)
	m.add("deployment", "default", "web", "created", "alice", "first release",
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","creationTimestamp":"2026-11-21T10:02:00Z"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1"}]}}}}`)
	m.add("deployment", "default", "web", "updated", "bob", "more traffic",
		`{"patch":{"spec":{"replicas":3}}}`)
	m.add("node", "", "node-1", "created", "gantry/agent/node-1", "registered",
		`{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"},"status":{"conditions":[{"type":"Ready","status":"True"}],"addresses":[{"type":"InternalIP","address":"10.0.0.5"}]}}`)
	m.add("pod", "default", "web-1", "created", "gantry/replicaset", "scale up",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"default"},"spec":{"nodeName":"node-1","containers":[{"name":"web","image":"nginx:1"}]},"status":{"phase":"Running","podIP":"10.244.1.7","containerStatuses":[{"name":"web","ready":true,"restartCount":2,"image":"nginx:1","imageID":"","state":{"running":{}}}]}}`)
	m.add("service", "default", "web", "created", "alice", "",
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","ports":[{"port":80,"protocol":"TCP"}]}}`)
	enc := base64.StdEncoding.EncodeToString([]byte(secretValue))
	m.add("secret", "default", "db", "created", "alice", "db password",
		`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"default","annotations":{"`+lastApplied+`":"{\"stringData\":{\"password\":\"`+secretValue+`\"}}"}},"type":"Opaque","data":{"password":"`+enc+`"}}`)
	m.add("secret", "default", "db", "updated", "alice", "rotate",
		`{"patch":{"data":{"password":"`+base64.StdEncoding.EncodeToString([]byte(secretValue+"-2"))+`"}}}`)
	view := projections.NewView(nil)
	for _, e := range m.events {
		if err := view.Fold(e); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Options{View: view, Store: m, Kinds: aggregates.Builtin()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, m
}

func get(t *testing.T, srv *httptest.Server, path string, wantCode int) string {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantCode {
		t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, wantCode, body)
	}
	return string(body)
}

func getJSON(t *testing.T, srv *httptest.Server, path string, out any) {
	t.Helper()
	if err := json.Unmarshal([]byte(get(t, srv, path, http.StatusOK)), out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not show %q", what, w)
		}
	}
}

func TestOverview(t *testing.T) {
	srv, _ := fixture(t)
	var o Overview
	getJSON(t, srv, "/api/overview", &o)
	counts := map[string]int{}
	for _, k := range o.Kinds {
		counts[k.Token] = k.Count
	}
	for kind, want := range map[string]int{"deployment": 1, "pod": 1, "node": 1, "service": 1, "secret": 1, "namespace": 1, "job": 0} {
		if counts[kind] != want {
			t.Errorf("%s: count %d, want %d", kind, counts[kind], want)
		}
	}
	if len(o.Events) != 8 || o.Events[5].Who != "bob" || o.Events[5].Reason != "more traffic" || o.View.Past || o.View.Seq != 8 {
		t.Fatalf("overview: %+v", o)
	}
	page := get(t, srv, "/", http.StatusOK)
	mustContain(t, "the overview page", page, "Deployments", "deployment/default/web", "more traffic", "bob", `data-live="/api/events/stream"`, `<html lang="en">`)

	var other Overview
	getJSON(t, srv, "/api/overview?namespace=kube-system", &other)
	for _, k := range other.Kinds {
		if k.Namespaced && k.Count != 0 {
			t.Errorf("namespace filter: %s counts %d in an empty namespace", k.Token, k.Count)
		}
	}
	if len(other.Events) != 0 {
		t.Errorf("namespace filter: %d events from other namespaces", len(other.Events))
	}
}

func TestKindTables(t *testing.T) {
	srv, _ := fixture(t)
	cases := []struct {
		kind  string
		cells []string
	}{
		{"pods", []string{"1/1", "Running", "2", "node-1", "10.244.1.7"}},
		{"deploy", []string{"0/3", "0", "0"}},
		{"service", []string{"ClusterIP", "10.96.0.10", "80/TCP"}},
		{"nodes", []string{"Ready", "10.0.0.5", "<none>"}},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			var tab KindTable
			getJSON(t, srv, "/api/kinds/"+c.kind, &tab)
			if len(tab.Rows) != 1 {
				t.Fatalf("%d rows", len(tab.Rows))
			}
			var got []string
			for _, cell := range tab.Rows[0].Cells {
				got = append(got, cell.Text)
			}
			if strings.Join(got, "|") != strings.Join(c.cells, "|") {
				t.Fatalf("cells %q, want %q", got, c.cells)
			}
			page := get(t, srv, "/kinds/"+c.kind, http.StatusOK)
			mustContain(t, "the "+c.kind+" page", page, append(c.cells[:1], tab.Columns...)...)
		})
	}
	get(t, srv, "/kinds/widgets", http.StatusNotFound)
}

func TestObjectPage(t *testing.T) {
	srv, _ := fixture(t)
	var p ObjectPage
	getJSON(t, srv, "/api/objects/deployment/default/web", &p)
	if !p.Exists || len(p.History) != 2 || !strings.Contains(p.YAML, "replicas: 3") {
		t.Fatalf("object page: %+v", p)
	}
	h := p.History[1]
	if h.Who != "bob" || h.Reason != "more traffic" || h.Verb != "updated" || h.Change() != "{\n  \"spec\": {\n    \"replicas\": 3\n  }\n}" {
		t.Fatalf("history: %+v change %s", h, h.Change())
	}
	page := get(t, srv, "/objects/deployment/default/web", http.StatusOK)
	mustContain(t, "the object page", page, "replicas: 3", "first release", "alice", "more traffic", "bob", "dev.gantry.deployment.updated.v1", "&#34;replicas&#34;: 3")
	mustContain(t, "the node page", get(t, srv, "/objects/node/node-1", http.StatusOK), "10.0.0.5", "registered")
	get(t, srv, "/objects/deployment/default/nope", http.StatusNotFound)
	get(t, srv, "/objects/deployment/web", http.StatusNotFound) // namespaced kind without a namespace
}

func TestPastView(t *testing.T) {
	srv, m := fixture(t)
	for _, at := range []string{"2", m.events[1].Stored.Add(30 * time.Second).Format(time.RFC3339)} {
		var p ObjectPage
		getJSON(t, srv, "/api/objects/deployment/default/web?at="+at, &p)
		if !p.View.Past || p.View.Seq != 2 || !strings.Contains(p.YAML, "replicas: 1") || p.Later != 1 || !p.History[1].Later {
			t.Fatalf("as of %s: %+v", at, p)
		}
		var o Overview
		getJSON(t, srv, "/api/overview?at="+at, &o)
		if len(o.Events) != 2 || !o.View.Past {
			t.Fatalf("overview as of %s: %d events", at, len(o.Events))
		}
	}
	page := get(t, srv, "/objects/deployment/default/web?at=2", http.StatusOK)
	mustContain(t, "a past page", page, "Past view.", "after event #2", "replicas: 1", "after this view", "Back to now")
	if strings.Contains(page, "data-live=") {
		t.Error("a past page follows live events")
	}
	var tab KindTable
	getJSON(t, srv, "/api/kinds/pods?at=4", &tab)
	if len(tab.Rows) != 0 {
		t.Fatalf("a pod created at #5 is listed as of #4")
	}
	mustContain(t, "links in a past view", get(t, srv, "/?at=4", http.StatusOK), `href="/kinds/deployment?at=4"`)
	get(t, srv, "/?at=yesterday", http.StatusBadRequest)
	get(t, srv, "/api/overview?at=yesterday", http.StatusBadRequest)
}

// TestSecretValuesHidden: no page or API answer holds a Secret's value,
// plain or base64, current or past; the keys and sizes show.
func TestSecretValuesHidden(t *testing.T) {
	srv, _ := fixture(t)
	var p ObjectPage
	getJSON(t, srv, "/api/objects/secret/default/db", &p)
	if !strings.Contains(p.YAML, "password: (hidden, 30 bytes)") {
		t.Fatalf("secret YAML: %s", p.YAML)
	}
	if !strings.Contains(p.History[1].Change(), `"password": "(hidden, 30 bytes)"`) {
		t.Fatalf("secret change: %s", p.History[1].Change())
	}
	forbidden := []string{secretValue, base64.StdEncoding.EncodeToString([]byte(secretValue)), base64.StdEncoding.EncodeToString([]byte(secretValue + "-2"))}
	for _, path := range []string{
		"/", "/api/overview", "/api/events", "/kinds/secret", "/api/kinds/secret",
		"/objects/secret/default/db", "/api/objects/secret/default/db",
		"/objects/secret/default/db?at=7", "/api/objects/secret/default/db?at=7", "/api/events?at=7",
	} {
		body := get(t, srv, path, http.StatusOK)
		for _, f := range forbidden {
			if strings.Contains(body, f) {
				t.Errorf("%s shows a secret value", path)
			}
		}
	}
}

func TestStaticAndHeaders(t *testing.T) {
	srv, _ := fixture(t)
	mustContain(t, "style.css", get(t, srv, "/static/style.css", http.StatusOK), ".banner")
	mustContain(t, "app.js", get(t, srv, "/static/app.js", http.StatusOK), "EventSource")
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
}
