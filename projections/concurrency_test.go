package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

const webDeployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"busybox:1"}]}}}}`

// TestConcurrentWritersLoseNothing: 20 clients scale and relabel one
// Deployment at once through two command-service replicas (so writes
// really race on the stream). Every command is accepted (after conflict
// retries) or refused with a clear error; the object equals the fold of
// the accepted events, and no client's label is lost.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	c := startCluster(t, 2)
	c.createNamespace(t, "default")
	c.mustDo(t, "deployment", "create", aggregates.Command{Namespace: "default", Name: "web", Object: []byte(webDeployment)})

	const clients = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	var refused []error
	unchanged := 0
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			client := bus.NewClient(c.conn, bus.Identity{Source: fmt.Sprintf("user/client-%d", i)})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			replicas := int32(i + 1)
			v := fmt.Sprint(i)
			for _, cmd := range []struct {
				verb string
				c    aggregates.Command
			}{
				{"scale", aggregates.Command{Namespace: "default", Name: "web", Replicas: &replicas}},
				{"label", aggregates.Command{Namespace: "default", Name: "web", Labels: map[string]*string{fmt.Sprintf("client-%d", i): &v}}},
			} {
				r, err := client.Do(ctx, "deployment", cmd.verb, cmd.c, bus.CommandMeta{})
				mu.Lock()
				if err != nil {
					refused = append(refused, err)
				} else if r.Unchanged {
					unchanged++ // e.g. a scale to the count the object already has
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	for _, err := range refused {
		if !apierrors.IsConflict(err) {
			t.Errorf("refused without a clear conflict error: %v", err)
		}
	}
	t.Logf("%d conflicts retried, %d commands refused after bounded retries", int(c.retries()), len(refused))

	// The fold of the stored events is the truth.
	subject := bus.EventSubject("deployment", "default", "web")
	events, err := c.store.Load(context.Background(), subject, 0)
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for _, e := range events {
		_, verb, _, _ := bus.ParseEventType(e.Type)
		if raw, err = aggregates.Apply(raw, aggregates.Event{Verb: verb, Data: e.Data}); err != nil {
			t.Fatal(err)
		}
	}
	var folded appsv1.Deployment
	if err := json.Unmarshal(raw, &folded); err != nil {
		t.Fatal(err)
	}
	if got, want := len(events)-1, 2*clients-len(refused)-unchanged; got != want {
		t.Errorf("%d events after create, want %d (one per accepted command that changed something)", got, want)
	}
	if len(refused) == 0 {
		for i := 0; i < clients; i++ {
			if folded.Labels[fmt.Sprintf("client-%d", i)] != fmt.Sprint(i) {
				t.Errorf("label of client %d lost: %v", i, folded.Labels)
			}
		}
	}
	// The projection agrees with the fold.
	resp := c.list(t, projectionsList("deployment", "default", "web"))
	var projected appsv1.Deployment
	if err := json.Unmarshal(resp.Items[0], &projected); err != nil {
		t.Fatal(err)
	}
	if *projected.Spec.Replicas != *folded.Spec.Replicas || len(projected.Labels) != len(folded.Labels) {
		t.Errorf("projection replicas %d labels %d, fold replicas %d labels %d", *projected.Spec.Replicas, len(projected.Labels), *folded.Spec.Replicas, len(folded.Labels))
	}
	if projected.ResourceVersion != fmt.Sprint(events[len(events)-1].Seq) {
		t.Errorf("resourceVersion %s, want the last event's sequence %d", projected.ResourceVersion, events[len(events)-1].Seq)
	}
}

// TestUpdateNamingAVersionAnotherReplicaWrote: a command service caches
// the objects it decided on; when another replica appended since, an
// update naming the newer resourceVersion is decided on it, not refused as
// stale against the cache.
func TestUpdateNamingAVersionAnotherReplicaWrote(t *testing.T) {
	c := startCluster(t, 1)
	c.createNamespace(t, "default")
	created := c.mustDo(t, "deployment", "create", aggregates.Command{Namespace: "default", Name: "web", Object: []byte(webDeployment)})
	// Another replica's append, as this one's cache never saw it.
	subject := bus.EventSubject("deployment", "default", "web")
	labeled, _ := json.Marshal(aggregates.LabeledData{Labels: map[string]*string{"tier": new("front")}})
	other, err := c.store.Append(context.Background(), subject, created.Seq, bus.Envelope{
		ID: fmt.Sprintf("other-replica-%d", created.Seq), Source: "test/other-replica", Type: bus.EventType("deployment", "labeled"),
		Subject: "default/web", Time: time.Now(), Data: labeled,
	})
	if err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	r, err := c.do(t, "deployment", "scale", aggregates.Command{Namespace: "default", Name: "web", ResourceVersion: fmt.Sprint(other), Replicas: &two})
	if err != nil {
		t.Fatalf("scale at the current resourceVersion %d: %v", other, err)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal(r.Object, &d); err != nil || *d.Spec.Replicas != 2 || d.Labels["tier"] != "front" {
		t.Fatalf("after the scale: %s (%v); want 2 replicas and the other replica's label", r.Object, err)
	}
	// A version older than the stream's is still refused.
	if _, err := c.do(t, "deployment", "scale", aggregates.Command{Namespace: "default", Name: "web", ResourceVersion: fmt.Sprint(created.Seq), Replicas: &two}); !apierrors.IsConflict(err) {
		t.Fatalf("scale at the stale resourceVersion %d: %v, want a conflict", created.Seq, err)
	}
}
