package cli

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections/projtest"
)

// TestWait: wait returns once the condition holds (a status written while
// it waits), once a field has the value, once an object is deleted, and
// fails with kubectl's words at the timeout.
func TestWait(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("deployment", "default", "web", deploymentManifest("web", 3))
	c.Apply("deployment", "default", "db", deploymentManifest("db", 1))

	waited := gantryInBackground(c, "wait", "deploy/web", "--for=condition=Available", "--timeout=20s")
	c.Status("deployment", "default", "web", appsv1.DeploymentStatus{Replicas: 3, AvailableReplicas: 3,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}})
	if r := <-waited; r.out != "deployment.apps/web condition met\n" || r.err != "" {
		t.Fatalf("wait for Available: %q %q", r.out, r.err)
	}

	for _, tc := range []struct {
		args      []string
		out, fail string
	}{
		{[]string{"wait", "deploy", "web", "db", "--for=jsonpath={.spec.template.spec.containers[0].image}=busybox"}, "deployment.apps/web condition met\ndeployment.apps/db condition met\n", ""},
		{[]string{"wait", "deploy", "-l", "app=web", "--for=condition=available=true"}, "deployment.apps/web condition met\n", ""},
		{[]string{"wait", "deploy/db", "--for=condition=Available", "--timeout=300ms"}, "", "error: timed out waiting for the condition on deployments/db\n"},
		{[]string{"wait", "deploy/db", "--for=ready"}, "", "error: --for \"ready\": want condition=COND[=VALUE], delete or jsonpath={PATH}=VALUE\n"},
		{[]string{"wait", "deploy/db", "svc/web", "--for=delete"}, "", "error: wait: one kind at a time, as KIND/NAME… or KIND NAME…\n"},
	} {
		out, errOut := gantryOn(c, tc.args...)
		if out != tc.out || errOut != tc.fail {
			t.Errorf("gantry %s:\n got %q %q\nwant %q %q", strings.Join(tc.args, " "), out, errOut, tc.out, tc.fail)
		}
	}

	waited = gantryInBackground(c, "wait", "deploy/db", "--for=delete", "--timeout=20s")
	c.MustDo("deployment", aggregates.VerbDelete, aggregates.Command{Namespace: "default", Name: "db"})
	if r := <-waited; r.out != "deployment.apps/db deleted\n" || r.err != "" {
		t.Fatalf("wait for delete: %q %q", r.out, r.err)
	}
}

// TestRolloutStatus: rollout status prints each new progress line as the
// deployment's status changes and returns once it is rolled out, or fails
// with kubectl's words at the timeout.
func TestRolloutStatus(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	c.Apply("deployment", "default", "web", deploymentManifest("web", 3))
	c.Apply("deployment", "default", "db", deploymentManifest("db", 1))

	done := gantryInBackground(c, "rollout", "status", "deployment/web", "--timeout=20s")
	c.Status("deployment", "default", "web", appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 1})
	c.Status("deployment", "default", "web", appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3})
	r := <-done
	if !strings.HasSuffix(r.out, "deployment \"web\" successfully rolled out\n") || r.err != "" {
		t.Fatalf("rollout status: %q %q", r.out, r.err)
	}
	out, errOut := gantryOn(c, "rollout", "status", "deployment/db", "--timeout=300ms")
	if want := "error: timed out waiting for the rollout of deployment \"db\"\n"; errOut != want {
		t.Errorf("rollout status at the timeout: %q %q, want the error %q", out, errOut, want)
	}
}

// result is what a gantry command printed, on stdout and stderr.
type result struct{ out, err string }

// gantryInBackground runs gantry on the test cluster while the test goes
// on; its result comes on the channel.
func gantryInBackground(c *projtest.Cluster, args ...string) <-chan result {
	done := make(chan result, 1)
	go func() {
		out, errOut := gantryOn(c, args...)
		done <- result{out, errOut}
	}()
	return done
}
