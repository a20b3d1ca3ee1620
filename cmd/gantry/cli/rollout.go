package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/workers/controllers/deployment"
)

func rolloutCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "rollout status|history|undo|pause|resume|restart deployment/NAME", Short: "Manage the rollout of a deployment"}
	var timeout time.Duration
	status := &cobra.Command{
		Use: "status deployment/NAME", Short: "Wait until the rollout finishes, printing its progress", Args: cobra.RangeArgs(1, 2),
		RunE: g.withDeployment(func(conn *bus.Conn, client *bus.Client, ns, name string) error {
			return g.rolloutStatus(conn, client, ns, name, timeout)
		}),
	}
	status.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	history := &cobra.Command{
		Use: "history deployment/NAME", Short: "List the revisions of a deployment", Args: cobra.RangeArgs(1, 2),
		RunE: g.withDeployment(func(_ *bus.Conn, client *bus.Client, ns, name string) error {
			return g.rolloutHistory(client, ns, name)
		}),
	}
	var toRevision int64
	undo := &cobra.Command{
		Use: "undo deployment/NAME [--to-revision N]", Short: "Roll back to the previous (or a given) revision", Args: cobra.RangeArgs(1, 2),
		RunE: g.withDeployment(func(_ *bus.Conn, client *bus.Client, ns, name string) error {
			return g.rolloutUndo(client, ns, name, toRevision)
		}),
	}
	undo.Flags().Int64Var(&toRevision, "to-revision", 0, "the revision to roll back to (0: the previous one)")
	pause := &cobra.Command{
		Use: "pause deployment/NAME", Short: "Stop rolling out template changes", Args: cobra.RangeArgs(1, 2),
		RunE: g.withDeployment(func(_ *bus.Conn, client *bus.Client, ns, name string) error {
			return g.setPaused(client, ns, name, true)
		}),
	}
	resume := &cobra.Command{
		Use: "resume deployment/NAME", Short: "Roll out template changes again", Args: cobra.RangeArgs(1, 2),
		RunE: g.withDeployment(func(_ *bus.Conn, client *bus.Client, ns, name string) error {
			return g.setPaused(client, ns, name, false)
		}),
	}
	var reason string
	restart := &cobra.Command{
		Use: "restart KIND/NAME", Short: "Replace every pod of a deployment, daemonset or statefulset through its update strategy", Args: cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, args []string) error { return g.rolloutRestart(args, reason) },
	}
	restart.Flags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")
	c.AddCommand(status, history, undo, pause, resume, restart)
	return c
}

func (g *globals) withDeployment(fn func(*bus.Conn, *bus.Client, string, string) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		k, ns, name, err := g.target(args)
		if err != nil {
			return err
		}
		if k.Token != "deployment" {
			return fmt.Errorf("rollout works on deployments, not %s", k.Plural)
		}
		conn, client, err := g.connect()
		if err != nil {
			return err
		}
		defer conn.Close()
		return fn(conn, client, ns, name)
	}
}

// rolloutStatus prints kubectl's progress lines, re-checking on every event.
func (g *globals) rolloutStatus(conn *bus.Conn, client *bus.Client, ns, name string, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	last := ""
	err := untilDone(wctx, conn, func() (bool, error) {
		var d appsv1.Deployment
		if err := fetch(client, "deployment", ns, name, &d); err != nil {
			return false, err
		}
		msg, done, err := rolloutMessage(&d)
		if err != nil {
			return false, err
		}
		if msg != last {
			fmt.Fprintln(g.out, msg)
			last = msg
		}
		return done, nil
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out waiting for the rollout of deployment %q", name)
	}
	return err
}

// rolloutMessage is kubectl's rollout status logic.
func rolloutMessage(d *appsv1.Deployment) (string, bool, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	switch {
	case st.UpdatedReplicas < want:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", d.Name, st.UpdatedReplicas, want), false, nil
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", d.Name, st.Replicas-st.UpdatedReplicas), false, nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", d.Name, st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out", d.Name), true, nil
}

// ownedReplicaSets lists the ReplicaSets the deployment controls.
func ownedReplicaSets(client *bus.Client, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	var out []*appsv1.ReplicaSet
	err := fetchAll(client, "replicaset", d.Namespace, func(raw json.RawMessage) error {
		rs := &appsv1.ReplicaSet{}
		if err := json.Unmarshal(raw, rs); err != nil {
			return err
		}
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.UID == d.UID {
			out = append(out, rs)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b *appsv1.ReplicaSet) int {
		return int(deployment.Revision(a.Annotations) - deployment.Revision(b.Annotations))
	})
	return out, err
}

func (g *globals) rolloutHistory(client *bus.Client, ns, name string) error {
	var d appsv1.Deployment
	if err := fetch(client, "deployment", ns, name, &d); err != nil {
		return err
	}
	rss, err := ownedReplicaSets(client, &d)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "deployment.apps/%s\n", name)
	w := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REVISION\tREPLICASET\tCHANGE-CAUSE")
	for _, rs := range rss {
		cause := rs.Annotations["kubernetes.io/change-cause"]
		if cause == "" {
			cause = "<none> (" + images(rs.Spec.Template.Spec.Containers) + ")"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\n", deployment.Revision(rs.Annotations), rs.Name, cause)
	}
	return w.Flush()
}

func images(cs []corev1.Container) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name+"="+c.Image)
	}
	return strings.Join(out, ",")
}

func (g *globals) rolloutUndo(client *bus.Client, ns, name string, toRevision int64) error {
	err := retryConflicts(func() error {
		var d appsv1.Deployment
		if err := fetch(client, "deployment", ns, name, &d); err != nil {
			return err
		}
		rss, err := ownedReplicaSets(client, &d)
		if err != nil {
			return err
		}
		back, err := deployment.Rollback(&d, rss, toRevision)
		if err != nil {
			return err
		}
		_, err = updateObject(client, "deployment", ns, name, d.ResourceVersion, back, "rollout undo")
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "deployment.apps/%s rolled back\n", name)
	return nil
}

func (g *globals) setPaused(client *bus.Client, ns, name string, paused bool) error {
	var v any = true
	if !paused {
		v = nil
	}
	r, err := patchObject(client, "deployment", ns, name, "", map[string]any{"spec": map[string]any{"paused": v}}, "rollout pause/resume")
	if err != nil {
		return err
	}
	word := map[bool]string{true: "paused", false: "resumed"}[paused]
	if r.Unchanged {
		word = "already " + word
	}
	fmt.Fprintf(g.out, "deployment.apps/%s %s\n", name, word)
	return nil
}

func setCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "set image KIND/NAME CONTAINER=IMAGE…", Short: "Change fields of objects"}
	image := &cobra.Command{
		Use: "image KIND/NAME CONTAINER=IMAGE…", Short: "Change container images of a pod template (or a pod)", Args: cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			k, ns, name, err := g.target(args[:1])
			if err != nil {
				return err
			}
			want := map[string]string{}
			for _, a := range args[1:] {
				c, img, ok := strings.Cut(a, "=")
				if !ok || img == "" {
					return fmt.Errorf("%q: want CONTAINER=IMAGE", a)
				}
				want[c] = img
			}
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			err = retryConflicts(func() error { return setImages(client, k.Token, ns, name, want) })
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%s/%s image updated\n", resourceName(k), name)
			return nil
		},
	}
	c.AddCommand(image)
	return c
}

// setImages changes the images in spec.template.spec (spec for a pod) and
// updates the object with a resourceVersion precondition.
func setImages(client *bus.Client, kind, ns, name string, want map[string]string) error {
	var obj map[string]any
	if err := fetch(client, kind, ns, name, &obj); err != nil {
		return err
	}
	spec, _ := obj["spec"].(map[string]any)
	if kind != "pod" {
		tpl, _ := spec["template"].(map[string]any)
		spec, _ = tpl["spec"].(map[string]any)
	}
	if spec == nil {
		return fmt.Errorf("%s %q has no pod template", kind, name)
	}
	found := map[string]bool{}
	for _, list := range []string{"initContainers", "containers"} {
		cs, _ := spec[list].([]any)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			n, _ := cm["name"].(string)
			if img, ok := want[n]; ok {
				cm["image"], found[n] = img, true
			} else if img, ok := want["*"]; ok {
				cm["image"], found["*"] = img, true
			}
		}
	}
	for c := range want {
		if !found[c] {
			return fmt.Errorf("%s %q has no container %q", kind, name, c)
		}
	}
	meta, _ := obj["metadata"].(map[string]any)
	rv, _ := meta["resourceVersion"].(string)
	_, err := updateObject(client, kind, ns, name, rv, obj, "set image")
	return err
}
