package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

func cordonCmd(g *globals, cordon bool) *cobra.Command {
	use := map[bool]string{true: "cordon", false: "uncordon"}[cordon]
	return &cobra.Command{
		Use: use + " NODE", Short: map[bool]string{true: "Mark a node unschedulable", false: "Mark a node schedulable"}[cordon], Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			return g.cordon(client, args[0], cordon)
		},
	}
}

func (g *globals) cordon(client *bus.Client, node string, cordon bool) error {
	var v any
	if cordon {
		v = true
	}
	r, err := patchObject(client, "node", "", node, "", map[string]any{"spec": map[string]any{"unschedulable": v}}, map[bool]string{true: "cordon", false: "uncordon"}[cordon])
	if err != nil {
		return err
	}
	word := map[bool]string{true: "cordoned", false: "uncordoned"}[cordon]
	if r.Unchanged {
		word = "already " + word
	}
	fmt.Fprintf(g.out, "node/%s %s\n", node, word)
	return nil
}

func drainCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	var grace int64
	c := &cobra.Command{
		Use: "drain NODE", Short: "Cordon a node and delete its pods (DaemonSet pods stay), waiting until they are gone", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := g.cordon(client, args[0], true); err != nil {
				return err
			}
			var gp *int64
			if cmd.Flags().Changed("grace-period") {
				gp = &grace
			}
			return g.drain(conn, client, args[0], gp, timeout)
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up waiting after this long")
	c.Flags().Int64Var(&grace, "grace-period", 0, "seconds each pod gets to stop (default: the pod's own)")
	return c
}

func (g *globals) podsOn(client *bus.Client, node string) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	err := fetchAll(client, "pod", "", func(raw json.RawMessage) error {
		p := &corev1.Pod{}
		if err := json.Unmarshal(raw, p); err != nil {
			return err
		}
		if p.Spec.NodeName == node {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func (g *globals) drain(conn *bus.Conn, client *bus.Client, node string, grace *int64, timeout time.Duration) error {
	pods, err := g.podsOn(client, node)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "DaemonSet" {
			fmt.Fprintf(g.err, "Warning: ignoring DaemonSet-managed pod %s/%s\n", p.Namespace, p.Name)
			continue
		}
		_, err := client.Do(ctx(), "pod", aggregates.VerbDelete, aggregates.Command{Namespace: p.Namespace, Name: p.Name, GracePeriodSeconds: grace}, bus.CommandMeta{Reason: "drain " + node})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		fmt.Fprintf(g.out, "evicting pod %s/%s\n", p.Namespace, p.Name)
	}
	wctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	n := 0
	err = untilDone(wctx, conn, func() (bool, error) {
		left, err := g.podsOn(client, node)
		if err != nil {
			return false, err
		}
		n = 0
		for _, p := range left {
			if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "DaemonSet" {
				n++
			}
		}
		return n == 0, nil
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("drain %s: %d pods still on the node after %s", node, n, timeout)
	case err != nil:
		return err
	}
	fmt.Fprintf(g.out, "node/%s drained\n", node)
	return nil
}

func taintCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "taint nodes NODE KEY[=VALUE]:EFFECT… | KEY[:EFFECT]-…", Short: "Add or remove node taints", Args: cobra.MinimumNArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			if k, err := g.kind(args[0]); err != nil || k.Token != "node" {
				return fmt.Errorf("taint works on nodes, not %q", args[0])
			}
			add, remove, err := parseTaintArgs(args[2:])
			if err != nil {
				return err
			}
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			node := args[1]
			err = retryConflicts(func() error {
				var n corev1.Node
				if err := fetch(client, "node", "", node, &n); err != nil {
					return err
				}
				taints, err := applyTaints(n.Spec.Taints, add, remove)
				if err != nil {
					return err
				}
				_, err = patchObject(client, "node", "", node, n.ResourceVersion, map[string]any{"spec": map[string]any{"taints": taints}}, "taint")
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "node/%s tainted\n", node)
			return nil
		},
	}
}

// parseTaintArgs reads kubectl's taint arguments: key=value:Effect to add,
// key:Effect- or key- to remove.
func parseTaintArgs(args []string) (add, remove []corev1.Taint, err error) {
	for _, a := range args {
		if strings.HasSuffix(a, "-") {
			kv, effect, _ := strings.Cut(strings.TrimSuffix(a, "-"), ":")
			key, _, _ := strings.Cut(kv, "=")
			remove = append(remove, corev1.Taint{Key: key, Effect: corev1.TaintEffect(effect)})
			continue
		}
		kv, effect, ok := strings.Cut(a, ":")
		if !ok {
			return nil, nil, fmt.Errorf("taint %q: want KEY[=VALUE]:EFFECT or KEY[:EFFECT]-", a)
		}
		switch corev1.TaintEffect(effect) {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, nil, fmt.Errorf("taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", a)
		}
		key, value, _ := strings.Cut(kv, "=")
		t := corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)}
		if t.Effect == corev1.TaintEffectNoExecute {
			now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
			t.TimeAdded = &now
		}
		add = append(add, t)
	}
	return add, remove, nil
}

// applyTaints replaces taints with the same key and effect, adds the new
// ones and removes those named (any effect when none is given).
func applyTaints(cur, add, remove []corev1.Taint) ([]corev1.Taint, error) {
	out := []corev1.Taint{}
	removed := 0
	for _, t := range cur {
		drop := false
		for _, r := range remove {
			if r.Key == t.Key && (r.Effect == "" || r.Effect == t.Effect) {
				drop = true
			}
		}
		for _, a := range add {
			if a.Key == t.Key && a.Effect == t.Effect {
				drop = true
			}
		}
		if drop {
			removed++
			continue
		}
		out = append(out, t)
	}
	if len(remove) > 0 && removed == 0 && len(add) == 0 {
		return nil, fmt.Errorf("taint %q not found", remove[0].Key)
	}
	return append(out, add...), nil
}
