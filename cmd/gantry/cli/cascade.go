package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/workers/controllers/garbagecollector"
)

// dependent is an object that names an owner in its ownerReferences.
type dependent struct {
	kind, ns, name, rv string
	refs               []metav1.OwnerReference
	uid                types.UID
}

// dependentsOf lists the objects in ns owned by uid.
func dependentsOf(client *bus.Client, ns string, uid types.UID) ([]dependent, error) {
	var out []dependent
	for _, kind := range garbagecollector.Kinds {
		err := fetchAll(client, kind, ns, func(raw json.RawMessage) error {
			var m struct {
				Metadata metav1.ObjectMeta `json:"metadata"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				return err
			}
			for _, r := range m.Metadata.OwnerReferences {
				if r.UID == uid {
					out = append(out, dependent{kind: kind, ns: ns, name: m.Metadata.Name, rv: m.Metadata.ResourceVersion, refs: m.Metadata.OwnerReferences, uid: m.Metadata.UID})
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// deleteCascade deletes with --cascade=orphan (dependents lose their
// reference to the owner first) or foreground (the owner goes, the
// collector deletes its dependents, and this waits until every one is
// gone). background is the plain delete.
func (g *globals) deleteCascade(conn *bus.Conn, client *bus.Client, k *aggregates.Kind, ns, name string, dcmd aggregates.Command, reason, mode string) error {
	if mode == "background" || mode == "" {
		return g.sendWith(client, k, aggregates.VerbDelete, ns, name, dcmd, reason, "deleted")
	}
	if mode != "orphan" && mode != "foreground" {
		return fmt.Errorf("--cascade %q: want background, foreground or orphan", mode)
	}
	var owner struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := fetch(client, k.Token, ns, name, &owner); err != nil {
		return err
	}
	if mode == "orphan" {
		deps, err := dependentsOf(client, ns, owner.Metadata.UID)
		if err != nil {
			return err
		}
		for _, d := range deps {
			refs := []metav1.OwnerReference{}
			for _, r := range d.refs {
				if r.UID != owner.Metadata.UID {
					refs = append(refs, r)
				}
			}
			if _, err := patchObject(client, d.kind, d.ns, d.name, "", map[string]any{"metadata": map[string]any{"ownerReferences": refs}}, "orphaned: owner "+name+" deleted with --cascade=orphan"); err != nil {
				return err
			}
		}
		return g.sendWith(client, k, aggregates.VerbDelete, ns, name, dcmd, reason, "deleted")
	}
	var all []dependent
	frontier := []types.UID{owner.Metadata.UID}
	for len(frontier) > 0 {
		deps, err := dependentsOf(client, ns, frontier[0])
		if err != nil {
			return err
		}
		frontier = frontier[1:]
		for _, d := range deps {
			all = append(all, d)
			frontier = append(frontier, d.uid)
		}
	}
	if err := g.sendWith(client, k, aggregates.VerbDelete, ns, name, dcmd, reason, "deleted"); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	left := 0
	err := untilDone(wctx, conn, func() (bool, error) {
		left = 0
		for _, d := range all {
			var m struct {
				Metadata metav1.ObjectMeta `json:"metadata"`
			}
			if fetch(client, d.kind, d.ns, d.name, &m) == nil && m.Metadata.UID == d.uid {
				left++
			}
		}
		return left == 0, nil
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%d dependents of %s/%s still present after 5m", left, resourceName(k), name)
	case err != nil:
		return err
	}
	fmt.Fprintf(g.out, "%d dependents of %s/%s deleted\n", len(all), resourceName(k), name)
	return nil
}
