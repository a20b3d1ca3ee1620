package garbagecollector

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
)

// Kinds the collector follows: owners and dependents.
var Kinds = []string{"deployment", "replicaset", "daemonset", "statefulset", "job", "cronjob", "pod"}

// LoopOptions tune the collector.
type LoopOptions struct {
	Workers int           // default 2
	Resync  time.Duration // default 60s
	Metrics *Metrics
}

// Loop is the garbage collector worker.
type Loop struct {
	view   *projections.View
	client commands.Commander
	feed   *informer.Feed
	queue  *workqueue.Queue
	opt    LoopOptions

	mu         sync.Mutex
	uids       map[string]types.UID          // object key → uid
	live       map[types.UID]bool            // uids present
	dependents map[types.UID]map[string]bool // owner uid → dependent keys
	owners     map[string][]types.UID        // dependent key → owner uids
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.Resync <= 0 {
		opt.Resync = time.Minute
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	return &Loop{
		view: view, client: client, opt: opt, feed: informer.NewFeed(view, Kinds...), queue: workqueue.New(),
		uids: map[string]types.UID{}, live: map[types.UID]bool{}, dependents: map[types.UID]map[string]bool{}, owners: map[string][]types.UID{},
	}
}

// Run collects until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	go l.feed.Run(ctx, l.observe)
	if l.feed.WaitSeeded(ctx) != nil { // workers start on the whole seed
		return nil
	}
	go workqueue.Every(ctx, l.opt.Resync, func() {
		l.mu.Lock()
		keys := make([]string, 0, len(l.owners))
		for k := range l.owners {
			keys = append(keys, k)
		}
		l.mu.Unlock()
		for _, k := range keys {
			l.queue.Add(k)
		}
	})
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.check)
	return nil
}

func objectKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func (l *Loop) observe(c projections.Change) {
	key := objectKey(c.Kind, c.Namespace, c.Name)
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.uids[key]; ok {
		delete(l.live, old)
		for _, o := range l.owners[key] {
			delete(l.dependents[o], key)
		}
		delete(l.owners, key)
		if c.Deleted {
			delete(l.uids, key)
			for dep := range l.dependents[old] {
				l.queue.Add(dep)
			}
			delete(l.dependents, old)
			return
		}
	}
	if c.Deleted {
		return
	}
	var m struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if json.Unmarshal(c.Raw, &m) != nil {
		return
	}
	l.uids[key] = m.Metadata.UID
	l.live[m.Metadata.UID] = true
	if len(m.Metadata.OwnerReferences) == 0 {
		return
	}
	wake := false
	for _, r := range m.Metadata.OwnerReferences {
		l.owners[key] = append(l.owners[key], r.UID)
		deps := l.dependents[r.UID]
		if deps == nil {
			deps = map[string]bool{}
			l.dependents[r.UID] = deps
		}
		deps[key] = true
		if !l.live[r.UID] {
			wake = true
		}
	}
	if wake {
		l.queue.Add(key)
	}
}

// exists asks the view, which is at least as current as the feed.
func (l *Loop) exists(namespace string) func(metav1.OwnerReference) bool {
	return func(r metav1.OwnerReference) bool {
		e, ok := l.view.Get(strings.ToLower(r.Kind), namespace, r.Name)
		if !ok {
			return false
		}
		var m struct {
			Metadata struct {
				UID types.UID `json:"uid"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(e.Raw, &m)
		return r.UID == "" || m.Metadata.UID == r.UID
	}
}

func (l *Loop) check(ctx context.Context, key string) error {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return nil
	}
	kind, ns, name := parts[0], parts[1], parts[2]
	e, ok := l.view.Get(kind, ns, name)
	if !ok {
		return nil
	}
	var m struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if json.Unmarshal(e.Raw, &m) != nil {
		return nil
	}
	verdict, keep := Decide(m.Metadata.OwnerReferences, l.exists(ns))
	switch verdict {
	case Delete:
		if m.Metadata.DeletionTimestamp != nil {
			return nil
		}
		l.opt.Metrics.Deletions.Inc()
		_, err := l.client.Do(ctx, kind, aggregates.VerbDelete, aggregates.Command{Namespace: ns, Name: name}, bus.CommandMeta{Reason: "garbage collected: owner deleted"})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	case Patch:
		raw, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": keep}})
		_, err := l.client.Do(ctx, kind, aggregates.VerbPatch, aggregates.Command{Namespace: ns, Name: name, ResourceVersion: seqString(e.Seq), Patch: raw}, bus.CommandMeta{Reason: "garbage collected: dangling owner references"})
		if apierrors.IsNotFound(err) || commands.IsConflict(err) {
			l.queue.Add(key)
			return nil
		}
		return err
	}
	return nil
}

func seqString(seq uint64) string {
	b, _ := json.Marshal(seq)
	return string(b)
}
