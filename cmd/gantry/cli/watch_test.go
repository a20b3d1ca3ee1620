package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// TestWatchShowsEveryChangeAfterTheList: `get deploy -l app=web -w` lists
// the matching deployment, then shows it scaled, shows another one when a
// label brings it into the selector, and shows the first once more when it
// is deleted; the header comes once, and later rows line up under it.
func TestWatchShowsEveryChangeAfterTheList(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("deployment", "default", "web", deploymentManifest("web", 3))
	c.Apply("deployment", "default", "db", deploymentManifest("db", 1))
	out := startWatch(t, c, getOptions{selector: "app=web", watch: true})

	out.waitFor(t, `(?m)^web\s+0/3\s`)
	five, web := int32(5), "web"
	c.MustDo("deployment", aggregates.VerbScale, aggregates.Command{Namespace: "default", Name: "web", Replicas: &five})
	out.waitFor(t, `(?m)^web\s+0/5\s`)
	c.MustDo("deployment", aggregates.VerbLabel, aggregates.Command{Namespace: "default", Name: "db", Labels: map[string]*string{"app": &web}})
	out.waitFor(t, `(?m)^db\s+0/1\s`)
	c.MustDo("deployment", aggregates.VerbDelete, aggregates.Command{Namespace: "default", Name: "web"})
	out.waitFor(t, `(?m)^web\s+0/5\s[^\n]*\n(.*\n)*web\s+0/5\s`)

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if strings.Count(out.String(), "UP-TO-DATE") != 1 || !strings.HasPrefix(lines[0], "NAME") || len(lines) != 5 {
		t.Fatalf("want the header, then web, web scaled, db labelled, web deleted:\n%s", out)
	}
	ageAt := func(line string) int { f := strings.Fields(line); return strings.LastIndex(line, f[len(f)-1]) } // the last column
	if strings.Index(lines[1], "0/3") != strings.Index(lines[2], "0/5") || ageAt(lines[0]) != ageAt(lines[3]) {
		t.Fatalf("rows printed later are not in the list's columns:\n%s", out)
	}
}

// TestWatchFromThePast: `get deploy web -w --at SEQ -o json` shows the
// deployment as it was at SEQ, then every change since in order, then
// goes on live.
func TestWatchFromThePast(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	at := c.Apply("deployment", "default", "web", deploymentManifest("web", 3)).Seq
	for _, n := range []int32{5, 7} {
		c.MustDo("deployment", aggregates.VerbScale, aggregates.Command{Namespace: "default", Name: "web", Replicas: &n})
	}
	out := startWatch(t, c, getOptions{at: strconv.FormatUint(at, 10), output: "json", watch: true})
	out.waitFor(t, `"replicas": 7`)
	nine := int32(9)
	c.MustDo("deployment", aggregates.VerbScale, aggregates.Command{Namespace: "default", Name: "web", Replicas: &nine})
	out.waitFor(t, `"replicas": 9`)

	dec := json.NewDecoder(strings.NewReader(out.String()))
	var replicas []int32
	var last uint64
	for dec.More() {
		var d struct {
			Metadata struct{ ResourceVersion string } `json:"metadata"`
			Spec     struct{ Replicas int32 }         `json:"spec"`
		}
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		rv, _ := strconv.ParseUint(d.Metadata.ResourceVersion, 10, 64)
		if rv <= last {
			t.Fatalf("resourceVersion %d after %d:\n%s", rv, last, out)
		}
		last = rv
		replicas = append(replicas, d.Spec.Replicas)
	}
	if want := []int32{3, 5, 7, 9}; !slices.Equal(replicas, want) {
		t.Fatalf("replicas %v, want %v:\n%s", replicas, want, out)
	}
}

// TestWatchSealedKind: Secrets are sealed on the stream; the watch reads
// their changes through the query service, which opens them.
func TestWatchSealedKind(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("secret", "default", "token", map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "token", "namespace": "default"}, "stringData": map[string]string{"k": "v"}})
	out := startWatch(t, c, getOptions{output: "yaml", watch: true})
	out.waitFor(t, `(?m)^  k: dg==$`) // base64 of "v", listed
	blue := "blue"
	c.MustDo("secret", aggregates.VerbLabel, aggregates.Command{Namespace: "default", Name: "token", Labels: map[string]*string{"team": &blue}})
	out.waitFor(t, `(?m)^    team: blue$`)
	docs := strings.Split(out.String(), "---\n")
	if len(docs) != 3 || !strings.Contains(docs[2], "team: blue") || !strings.Contains(docs[2], "  k: dg==") {
		t.Fatalf("want the listed secret, then the labelled one with its data:\n%s", out)
	}
}

func deploymentManifest(name string, replicas int) map[string]any {
	labels := map[string]string{"app": name}
	return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "default", "labels": labels},
		"spec": map[string]any{"replicas": replicas, "selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox"}}}}}}
}

// startWatch runs a watch of deployments (or of secrets, for yaml) in the
// default namespace until the test ends.
func startWatch(t *testing.T, c *projtest.Cluster, o getOptions) *watchOutput {
	t.Helper()
	out := &watchOutput{}
	g := &globals{out: out, err: io.Discard, kinds: aggregates.Builtin()}
	kind := "deploy"
	if o.output == "yaml" {
		kind = "secret"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.watch(ctx, c.Conn, c.Client, []string{kind}, "", o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
	return out
}

// watchOutput is what a watch printed, read while it still writes.
type watchOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *watchOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *watchOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor waits, at most 10 s, until the output matches pattern.
func (w *watchOutput) waitFor(t *testing.T, pattern string) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if re.MatchString(w.String()) {
			return
		}
	}
	t.Fatalf("the watch never printed %s:\n%s", pattern, w)
}
