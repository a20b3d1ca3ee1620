package projections_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
)

func replicasOf(t *testing.T, raw []byte) int32 {
	t.Helper()
	var d appsv1.Deployment
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// TestGetAt: the state as of a sequence or a time is the state before a
// later change, and an object deleted later is still there at that time.
func TestGetAt(t *testing.T) {
	c := startCluster(t, 1)
	c.createNamespace(t, "default")
	created := c.mustDo(t, "deployment", "create", aggregates.Command{Namespace: "default", Name: "web", Object: []byte(webDeployment)})
	time.Sleep(20 * time.Millisecond) // distinct stream timestamps around the cut
	cut := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	five := int32(5)
	c.mustDo(t, "deployment", "scale", aggregates.Command{Namespace: "default", Name: "web", Replicas: &five})
	c.mustDo(t, "deployment", "delete", aggregates.Command{Namespace: "default", Name: "web"})

	if got := c.list(t, projections.ListRequest{Kind: "deploy", Namespace: "default"}); len(got.Items) != 0 {
		t.Fatalf("deleted deployment still listed now: %d items", len(got.Items))
	}
	for _, at := range []string{fmt.Sprint(created.Seq), cut.Format(time.RFC3339Nano)} {
		got := c.list(t, projections.ListRequest{Kind: "deploy", Namespace: "default", At: at})
		if len(got.Items) != 1 || replicasOf(t, got.Items[0]) != 1 {
			t.Fatalf("--at %s: %d items, want the deployment with 1 replica", at, len(got.Items))
		}
	}
	got := c.list(t, projections.ListRequest{Kind: "deploy", Namespace: "default", At: fmt.Sprint(created.Seq + 1)})
	if len(got.Items) != 1 || replicasOf(t, got.Items[0]) != 5 {
		t.Fatalf("--at after the scale: want 5 replicas")
	}
	if _, err := c.do(t, "deployment", "scale", aggregates.Command{Namespace: "default", Name: "web", Replicas: &five}); err == nil {
		t.Fatal("scaled a deleted deployment")
	}
}
