package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// patchCmd is kubectl patch with a merge patch (RFC 7386), the one kind of
// patch the aggregates take; for maps it is what kubectl's default
// strategic merge does.
func patchCmd(g *globals) *cobra.Command {
	var patch, typ, reason string
	c := &cobra.Command{
		Use:   "patch KIND NAME | KIND/NAME -p PATCH [--type merge]",
		Short: "Change fields of an object with a JSON merge patch (JSON or YAML) of its spec, labels or annotations",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ != "merge" {
				return fmt.Errorf("patch --type %s: only merge patches (RFC 7386) are supported", typ)
			}
			if patch == "" {
				return fmt.Errorf("patch: -p PATCH is required")
			}
			raw, err := yaml.YAMLToJSON([]byte(patch)) // JSON is YAML too
			if err != nil {
				return fmt.Errorf("patch: -p is neither JSON nor YAML: %w", err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil || m == nil {
				return fmt.Errorf("patch: -p must be an object: %s", patch)
			}
			k, ns, name, err := g.target(args)
			if err != nil {
				return err
			}
			return g.send(k, aggregates.VerbPatch, ns, name, aggregates.Command{Patch: raw}, reason, "patched")
		},
	}
	c.Flags().StringVarP(&patch, "patch", "p", "", "the merge patch, JSON or YAML")
	c.Flags().StringVar(&typ, "type", "merge", "merge (RFC 7386); json and strategic patches are not supported")
	c.Flags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")
	return c
}

// annotateCmd is kubectl annotate (keysCmd).
func annotateCmd(g *globals) *cobra.Command {
	return keysCmd(g, "annotate", "annotation", aggregates.VerbPatch, "annotated")
}

// guardOverwrite refuses, as kubectl without --overwrite, a change of a
// value a key already has in the object's labels or annotations (field),
// and returns the version it read: the change names it, so a value set
// meanwhile is not overwritten unseen either.
func guardOverwrite(client *bus.Client, k *aggregates.Kind, ns, name, field string, changes map[string]*string) (string, error) {
	var cur struct {
		Metadata struct {
			Labels          map[string]string `json:"labels"`
			Annotations     map[string]string `json:"annotations"`
			ResourceVersion string            `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := fetch(client, k.Token, ns, name, &cur); err != nil {
		return "", err
	}
	have := cur.Metadata.Labels
	if field == "annotations" {
		have = cur.Metadata.Annotations
	}
	return cur.Metadata.ResourceVersion, refuseOverwrite(have, changes)
}

// refuseOverwrite names, as kubectl does, the first key (in order) whose
// current value would change.
func refuseOverwrite(current map[string]string, changes map[string]*string) error {
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if old, ok := current[k]; ok && changes[k] != nil && *changes[k] != old {
			return fmt.Errorf("'%s' already has a value (%s), and --overwrite is false", k, old)
		}
	}
	return nil
}

// rolloutRestart stamps the pod template with the time, as kubectl rollout
// restart does, so the controller replaces every pod through its update
// strategy.
func (g *globals) rolloutRestart(args []string, reason string) error {
	k, ns, name, err := g.target(args)
	if err != nil {
		return err
	}
	switch k.Token {
	case "deployment", "daemonset", "statefulset":
	default:
		return fmt.Errorf("rollout restart works on deployments, daemonsets and statefulsets, not %s", k.Plural)
	}
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{restartedAtAnnotation: time.Now().UTC().Format(time.RFC3339Nano)}}}}}
	raw, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	return g.send(k, aggregates.VerbPatch, ns, name, aggregates.Command{Patch: raw}, or(reason, "rollout restart"), "restarted")
}

// restartedAtAnnotation is the pod template annotation kubectl rollout
// restart sets.
const restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
