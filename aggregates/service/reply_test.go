package service_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
)

// TestReplyObjectOnlyWhenAsked: a command is answered without the object
// unless its sender asks for it (bus.WantObjectHeader, as bus.Client sends
// for CommandMeta.WantObject); a dry run and a command that asks get it,
// stamped with its resourceVersion, and a Secret's data never leaves
// either way.
func TestReplyObjectOnlyWhenAsked(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{})
	ctx := context.Background()
	do := func(verb string, c aggregates.Command, meta bus.CommandMeta) bus.Reply {
		t.Helper()
		r, err := p.client.Do(ctx, "deployment", verb, c, meta)
		if err != nil {
			t.Fatalf("%s: %v", verb, err)
		}
		return r
	}
	rv := func(obj json.RawMessage) string {
		var o struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(obj, &o); err != nil {
			t.Fatalf("reply object %s: %v", obj, err)
		}
		return o.Metadata.ResourceVersion
	}
	manifest := func(name string) []byte {
		return []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"busybox:1"}]}}}}`)
	}
	create := aggregates.Command{Namespace: "default", Name: "web", Object: manifest("web")}
	r := do("create", create, bus.CommandMeta{})
	if r.Seq == 0 || r.Event != aggregates.Created || len(r.Object) != 0 {
		t.Errorf("create, object not asked for: %+v (object %s)", r, r.Object)
	}
	five := int32(5)
	r = do("scale", aggregates.Command{Namespace: "default", Name: "web", Replicas: &five}, bus.CommandMeta{WantObject: true})
	if got := rv(r.Object); got != strconv.FormatUint(r.Seq, 10) {
		t.Errorf("scale, object asked for: resourceVersion %q, want %d", got, r.Seq)
	}
	r = do("create", aggregates.Command{Namespace: "default", Name: "new", Object: manifest("new")}, bus.CommandMeta{DryRun: true})
	if len(r.Object) == 0 || rv(r.Object) != "" {
		t.Errorf("dry-run create: object %s, want one without a version yet", r.Object)
	}

	// Commands sent as nats req would send them: a content type, perhaps
	// the header asking for the object.
	for i, want := range []bool{false, true} {
		env := bus.Envelope{ID: "raw-" + strconv.Itoa(i), Source: "user/nats-cli", Type: bus.CommandType("deployment", "scale"), Time: time.Now(),
			Data: json.RawMessage(`{"namespace":"default","name":"web","replicas":` + strconv.Itoa(2+i) + `}`)}
		body, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		h := nats.Header{"Content-Type": {bus.ContentType}}
		if want {
			h.Set(bus.WantObjectHeader, "true")
		}
		m, err := p.conn.NC.RequestMsg(&nats.Msg{Subject: bus.CommandSubject("deployment", "scale"), Data: body, Header: h}, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var raw bus.Reply
		if err := json.Unmarshal(m.Data, &raw); err != nil || raw.Event != aggregates.Scaled || raw.Seq == 0 {
			t.Fatalf("command sent by hand: %s (%v), want it scaled", m.Data, err)
		}
		switch {
		case !want && len(raw.Object) != 0:
			t.Errorf("command without %s: answered with the object %s", bus.WantObjectHeader, raw.Object)
		case want && rv(raw.Object) != strconv.FormatUint(raw.Seq, 10):
			t.Errorf("command with %s: %s, want the scaled object at its version", bus.WantObjectHeader, m.Data)
		}
	}

	secret := []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"password":"hunter2-plain"}}`)
	for _, meta := range []bus.CommandMeta{{WantObject: true}, {DryRun: true}} {
		r, err := p.client.Do(ctx, "secret", "apply", aggregates.Command{Namespace: "default", Name: "s", Object: secret}, meta)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Object) == 0 || strings.Contains(string(r.Object), "hunter2") || strings.Contains(string(r.Object), "aHVudGVyMi1wbGFpbg") {
			t.Errorf("secret reply (%+v): %s", meta, r.Object)
		}
	}
}

// TestCreateOfANewObjectReadsNothing: a create of an object the command
// service has not seen is decided without reading the stream (no direct
// get goes out), and still cannot overwrite: a create of an existing
// object is refused as before and appends nothing; after a delete the
// name can be created again.
func TestCreateOfANewObjectReadsNothing(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{})
	count := countReads(t, p)
	cm := func(name string) aggregates.Command {
		return aggregates.Command{Namespace: "default", Name: name, Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"},"data":{"a":"b"}}`)}
	}
	count()
	if _, err := p.do("configmap", "create", cm("fresh")); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Errorf("create of a new object: %d reads of the stream, want none", n)
	}
	if _, err := p.client.Do(context.Background(), "configmap", "create", cm("other"), bus.CommandMeta{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n == 0 {
		t.Error("a dry run read nothing: the count sees no reads at all")
	}

	// A service that has not seen "fresh" yet (a restart, another replica):
	// only the append's expectation stands between it and an overwrite.
	p.restartService(t)
	head := p.head(t)
	_, err := p.do("configmap", "create", cm("fresh"))
	if !apierrors.IsAlreadyExists(err) {
		t.Errorf("create of an existing object: %v, want AlreadyExists", err)
	}
	if got := p.head(t); got != head {
		t.Errorf("the refused create appended: head %d, was %d", got, head)
	}
	if _, err := p.do("configmap", "delete", aggregates.Command{Namespace: "default", Name: "fresh"}); err != nil {
		t.Fatal(err)
	}
	p.restartService(t)
	if _, err := p.do("configmap", "create", cm("fresh")); err != nil {
		t.Errorf("create after a delete, by a service that saw neither: %v", err)
	}
}

// TestQuotaKnownFromTheFirstCommand: a command service takes no command
// before it knows the namespace's quotas, so the first create after a
// (re)start is charged like any other.
func TestQuotaKnownFromTheFirstCommand(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{})
	if _, err := p.do("resourcequota", "create", aggregates.Command{Namespace: "default", Name: "q",
		Object: []byte(`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q"},"spec":{"hard":{"pods":"1"}}}`)}); err != nil {
		t.Fatal(err)
	}
	pod := func(name string) aggregates.Command {
		return aggregates.Command{Namespace: "default", Name: name,
			Object: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"busybox:1"}]}}`)}
	}
	if _, err := p.do("pod", "create", pod("a")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		p.startService(t)
		name := "b" + strconv.Itoa(i)
		if _, err := p.untilAnswered(t, "pod", "create", pod(name)); err == nil || !strings.Contains(err.Error(), "exceeded quota: q,") {
			t.Fatalf("restart %d: create pod %s: %v, want it refused by quota q", i, name, err)
		}
	}
}

// TestCreateOfAnExistingObjectChargesNothing: in a namespace with a quota,
// and for a Service, a create the service has not seen is read first as
// before, so a create of an existing object is refused without charging the
// quota or reserving an address and giving it back (events in the history).
func TestCreateOfAnExistingObjectChargesNothing(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{})
	if _, err := p.do("resourcequota", "create", aggregates.Command{Namespace: "default", Name: "q",
		Object: []byte(`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q"},"spec":{"hard":{"pods":"10"}}}`)}); err != nil {
		t.Fatal(err)
	}
	pod := aggregates.Command{Namespace: "default", Name: "a",
		Object: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"busybox:1"}]}}`)}
	if _, err := p.do("pod", "create", pod); err != nil {
		t.Fatal(err)
	}
	if _, err := p.do("namespace", "create", aggregates.Command{Name: "other", Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}}`)}); err != nil {
		t.Fatal(err)
	}
	svc := aggregates.Command{Namespace: "other", Name: "s", Object: svcManifest("s", `{"ports":[{"port":80}]}`)} // no quota there
	if _, err := p.do("service", "create", svc); err != nil {
		t.Fatal(err)
	}
	p.restartService(t)
	for _, c := range []struct {
		kind string
		cmd  aggregates.Command
	}{{"pod", pod}, {"service", svc}} {
		head := p.head(t)
		if _, err := p.do(c.kind, "create", c.cmd); !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create of an existing %s: %v, want AlreadyExists", c.kind, err)
		}
		if got := p.head(t); got != head {
			t.Errorf("the refused create of a %s appended %d events (a charge or reservation, and its release?)", c.kind, got-head)
		}
	}
}

// TestCommandsAfterAnAnswerReadNothing: the service keeps what a command
// appended (after answering it), so the commands that follow on the same
// object, sent as soon as each answer is in, are decided on it without
// reading the stream.
func TestCommandsAfterAnAnswerReadNothing(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{})
	count := countReads(t, p)
	cm := aggregates.Command{Namespace: "default", Name: "c", Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}`)}
	ctx := context.Background()
	if _, err := p.client.Do(ctx, "configmap", "create", cm, bus.CommandMeta{}); err != nil {
		t.Fatal(err)
	}
	count()
	var last uint64
	for i := range 5 {
		v := strconv.Itoa(i)
		r, err := p.client.Do(ctx, "configmap", "label", aggregates.Command{Namespace: "default", Name: "c", Labels: map[string]*string{"n": &v}}, bus.CommandMeta{})
		if err != nil || r.Event != aggregates.Labeled || r.Seq <= last {
			t.Fatalf("label %d: %+v, %v", i, r, err)
		}
		last = r.Seq
	}
	if n := count(); n != 0 {
		t.Errorf("five labels after the create read the stream %d times, want none", n)
	}

}

// countReads watches the stream's direct gets (how the service reads an
// object's events); the function it returns counts those since its last
// call.
func countReads(t *testing.T, p *allocPlane) func() int {
	t.Helper()
	reads, err := p.conn.NC.SubscribeSync(bus.DirectGets)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	return func() int {
		t.Helper()
		if err := p.conn.NC.Flush(); err != nil {
			t.Fatal(err)
		}
		n, _, _ := reads.Pending()
		for range n {
			_, _ = reads.NextMsg(time.Second)
		}
		return n
	}
}

// TestNextCommandSeesWhatOthersRead: a command sent as soon as an answer
// is in is decided on what that answer reports, also where it reads
// another object's state: the namespace it is created in, the namespace's
// LimitRange. The service caches those kinds before it answers; the test
// holds every lane for a while after each answer, where the cache of
// other kinds is written.
func TestNextCommandSeesWhatOthersRead(t *testing.T) {
	p := startAllocPlane(t, service.AllocConfig{})
	p.afterAnswer = func() { time.Sleep(50 * time.Millisecond) }
	p.restartService(t)
	for _, ns := range []string{"team-a", "team-b", "team-c", "team-d"} { // lanes are hashed: four pairs, so some are apart
		cm := aggregates.Command{Namespace: ns, Name: "c", Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`)}
		if _, err := p.do("configmap", "create", cm); !apierrors.IsNotFound(err) {
			t.Fatalf("create in missing namespace %s: %v, want NotFound", ns, err)
		}
		if _, err := p.do("namespace", "create", aggregates.Command{Name: ns, Object: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + ns + `"}}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.do("configmap", "create", cm); err != nil {
			t.Errorf("create right after namespace %s was created: %v", ns, err)
		}
		lr := func(max string) aggregates.Command {
			return aggregates.Command{Namespace: ns, Name: "limits", Object: []byte(`{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"limits"},"spec":{"limits":[{"type":"Container","max":{"cpu":"` + max + `"}}]}}`)}
		}
		if _, err := p.do("limitrange", "apply", lr("1")); err != nil {
			t.Fatal(err)
		}
		if _, err := p.do("limitrange", "apply", lr("500m")); err != nil {
			t.Fatal(err)
		}
		pod := aggregates.Command{Namespace: ns, Name: "p", Object: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox:1","resources":{"requests":{"cpu":"800m"},"limits":{"cpu":"800m"}}}]}}`)}
		if _, err := p.do("pod", "create", pod); err == nil {
			t.Errorf("a pod over the LimitRange just lowered to 500m in %s was admitted", ns)
		}
	}
}
