package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// onObject reads KIND/NAME (or KIND NAME), connects and runs fn.
func (g *globals) onObject(args []string, fn func(client *bus.Client, k *aggregates.Kind, ns, name string) error) error {
	k, ns, name, err := g.target(args)
	if err != nil {
		return err
	}
	return g.withClient(func(_ *bus.Conn, client *bus.Client) error { return fn(client, k, ns, name) })
}

// withClient connects, runs fn and disconnects.
func (g *globals) withClient(fn func(conn *bus.Conn, client *bus.Client) error) error {
	conn, client, err := g.connect()
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn, client)
}

// fetch reads one object through the query API (which reads its own
// writes) into out.
func fetch(client *bus.Client, kind, ns, name string, out any) error {
	var resp projections.ListResponse
	if err := client.Query(ctx(), projections.QueryList, projections.ListRequest{Kind: kind, Namespace: ns, Name: name}, &resp); err != nil {
		return err
	}
	if len(resp.Items) == 0 {
		if k, ok := aggregates.BuiltinKind(kind); ok {
			return apierrors.NewNotFound(k.GroupResource(), name)
		}
		return fmt.Errorf("%s %q not found", kind, name)
	}
	return json.Unmarshal(resp.Items[0], out)
}

// fetchYAML reads one object, as JSON and as YAML.
func fetchYAML(client *bus.Client, k *aggregates.Kind, ns, name string) (json.RawMessage, []byte, error) {
	var obj json.RawMessage
	if err := fetch(client, k.Token, ns, name, &obj); err != nil {
		return nil, nil, err
	}
	y, err := yaml.JSONToYAML(obj)
	return obj, y, err
}

// fetchAll lists a kind in a namespace ("" for all) into items, decoded
// one by one with decode.
func fetchAll(client *bus.Client, kind, ns string, decode func(json.RawMessage) error) error {
	req := projections.ListRequest{Kind: kind, Namespace: ns, Limit: 500}
	for {
		var resp projections.ListResponse
		if err := client.Query(ctx(), projections.QueryList, req, &resp); err != nil {
			return err
		}
		for _, it := range resp.Items {
			if err := decode(it); err != nil {
				return err
			}
		}
		if resp.Continue == "" {
			return nil
		}
		req.Continue = resp.Continue
	}
}

// isConflict: a Kubernetes conflict, or a lost append race reported by
// the command service for a command with a resourceVersion.
func isConflict(err error) bool {
	return apierrors.IsConflict(err) || err != nil && strings.Contains(err.Error(), bus.ErrConflict.Error())
}

// retryConflicts runs fn (read, change, write with a resourceVersion
// precondition) until it does not conflict, at most 10 times.
func retryConflicts(fn func() error) error {
	var err error
	for range 10 {
		if err = fn(); !isConflict(err) {
			return err
		}
	}
	return errors.Join(errors.New("gave up after 10 conflicting attempts"), err)
}

// updateObject sends obj (with its resourceVersion) as an update.
func updateObject(client *bus.Client, kind, ns, name, rv string, obj any, reason string) (bus.Reply, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return bus.Reply{}, err
	}
	return client.Do(ctx(), kind, aggregates.VerbUpdate, aggregates.Command{Namespace: ns, Name: name, ResourceVersion: rv, Object: raw}, bus.CommandMeta{Reason: reason})
}

// patchObject sends a merge patch, with a precondition if rv is set.
func patchObject(client *bus.Client, kind, ns, name, rv string, patch any, reason string) (bus.Reply, error) {
	raw, err := json.Marshal(patch)
	if err != nil {
		return bus.Reply{}, err
	}
	return client.Do(ctx(), kind, aggregates.VerbPatch, aggregates.Command{Namespace: ns, Name: name, ResourceVersion: rv, Patch: raw}, bus.CommandMeta{Reason: reason})
}

// recheckEvery bounds how long untilDone waits between checks without an
// event: the query a check makes can be answered just before the event it
// waits for is folded, and then no later event may come to wake it.
const recheckEvery = time.Second

// untilDone calls check now and again whenever an event is appended (at
// least every recheckEvery), until check reports done or fails, or ctx
// ends (ctx.Err()). It subscribes before the first check, so no change is
// missed in between.
func untilDone(ctx context.Context, conn *bus.Conn, check func() (bool, error)) error {
	wake := make(chan struct{}, 1)
	sub, err := bus.SubscribeEvents(conn, func(bus.Envelope) {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	tick := time.NewTicker(recheckEvery)
	defer tick.Stop()
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-wake:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
