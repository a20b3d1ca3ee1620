package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// waitCmd is kubectl wait: until every named (or selected) object meets
// the condition, or the timeout.
func waitCmd(g *globals) *cobra.Command {
	var forArg, selector string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "wait KIND/NAME… | KIND NAME… | KIND -l SELECTOR --for=condition=COND[=VALUE]|delete|jsonpath={PATH}=VALUE [--timeout=30s]",
		Short: "Wait until objects meet a condition, are deleted, or a field has a value",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			test, err := parseWaitFor(forArg)
			if err != nil {
				return err
			}
			k, names, err := g.waitTargets(args, selector)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return g.withClient(func(conn *bus.Conn, client *bus.Client) error {
				return g.waitFor(ctx, conn, client, k, names, selector, test)
			})
		},
	}
	c.Flags().StringVar(&forArg, "for", "", "condition=COND[=VALUE] (VALUE default true), delete, or jsonpath={PATH}=VALUE")
	c.Flags().StringVarP(&selector, "selector", "l", "", "every object of the kind matching this label selector")
	c.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return c
}

// waitTest says whether an object (nil: absent) is what the wait is for,
// and the word kubectl prints when it is.
type waitTest struct {
	met  func(obj []byte) bool
	word string
}

func parseWaitFor(s string) (waitTest, error) {
	switch {
	case s == "delete":
		return waitTest{met: func(obj []byte) bool { return obj == nil }, word: "deleted"}, nil
	case strings.HasPrefix(s, "condition="):
		cond, want, ok := strings.Cut(strings.TrimPrefix(s, "condition="), "=")
		if !ok {
			want = "true"
		}
		if cond == "" {
			return waitTest{}, fmt.Errorf("--for %q: want condition=NAME[=VALUE]", s)
		}
		return waitTest{met: func(obj []byte) bool { return obj != nil && hasCondition(obj, cond, want) }, word: "condition met"}, nil
	case strings.HasPrefix(s, "jsonpath="):
		expr := strings.TrimPrefix(s, "jsonpath=")
		i := strings.LastIndex(expr, "}=")
		if !strings.HasPrefix(expr, "{") || i < 0 {
			return waitTest{}, fmt.Errorf("--for %q: want jsonpath={PATH}=VALUE", s)
		}
		path, err := newPath(expr[:i+1])
		if err != nil {
			return waitTest{}, fmt.Errorf("--for %q: %w", s, err)
		}
		want := expr[i+2:]
		return waitTest{met: func(obj []byte) bool { return obj != nil && pathValue(path, obj) == want }, word: "condition met"}, nil
	}
	return waitTest{}, fmt.Errorf("--for %q: want condition=COND[=VALUE], delete or jsonpath={PATH}=VALUE", s)
}

// hasCondition: status.conditions has cond (any case, as kubectl) with
// status want (any case).
func hasCondition(obj []byte, cond, want string) bool {
	var o struct {
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
		} `json:"status"`
	}
	if json.Unmarshal(obj, &o) != nil {
		return false
	}
	for _, c := range o.Status.Conditions {
		if strings.EqualFold(c.Type, cond) {
			return strings.EqualFold(c.Status, want)
		}
	}
	return false
}

// waitTargets reads the kind and names: KIND/NAME…, KIND NAME…, or KIND
// with a selector.
func (g *globals) waitTargets(args []string, selector string) (*aggregates.Kind, []string, error) {
	refs, kind, err := objectArgs("wait", args)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, r := range refs {
		if kind != "" && r.kind != kind {
			return nil, nil, fmt.Errorf("wait: one kind at a time, as KIND/NAME… or KIND NAME…")
		}
		kind = r.kind
		names = append(names, r.name)
	}
	if len(names) == 0 && selector == "" || len(names) > 0 && selector != "" {
		return nil, nil, errors.New("wait: name objects, or select them with -l, not both")
	}
	k, err := g.kind(kind)
	return k, names, err
}

// waitFor re-checks on every event until every object meets test,
// printing each as it does (kubectl's lines), or ctx ends.
func (g *globals) waitFor(ctx context.Context, conn *bus.Conn, client *bus.Client, k *aggregates.Kind, names []string, selector string, test waitTest) error {
	ns := g.nsFor(k)
	if selector != "" {
		var err error
		if names, err = g.namesMatching(client, k, selector); err != nil {
			return err
		}
		if len(names) == 0 {
			return fmt.Errorf("no matching resources found")
		}
	}
	pending := names
	err := untilDone(ctx, conn, func() (bool, error) {
		var still []string
		for _, name := range pending {
			var obj json.RawMessage
			switch err := fetch(client, k.Token, ns, name, &obj); {
			case apierrors.IsNotFound(err):
				obj = nil
			case err != nil:
				return false, err
			}
			if test.met(obj) {
				fmt.Fprintf(g.out, "%s/%s %s\n", resourceName(k), name, test.word)
			} else {
				still = append(still, name)
			}
		}
		pending = still
		return len(pending) == 0, nil
	})
	if ctx.Err() != nil && len(pending) > 0 {
		return fmt.Errorf("timed out waiting for the condition on %s/%s", k.Plural, pending[0])
	}
	return err
}
