package namespace

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
)

// LoopOptions tune the namespace loop.
type LoopOptions struct {
	Workers int           // default 2
	Resync  time.Duration // default 30s
	// Kinds are the namespaced kind tokens to clean up; default every
	// namespaced kind of aggregates.Builtin(), and horizontalpodautoscaler.
	Kinds   []string
	Metrics *Metrics
}

// Loop is the namespace worker.
type Loop struct {
	client commands.Commander
	feed   *informer.Feed
	queue  *workqueue.Queue
	expect *commands.Expectations
	opt    LoopOptions

	mu         sync.Mutex
	namespaces map[string]*corev1.Namespace
	objects    map[string]map[string]Object // namespace → "kind/name" → object
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.Resync <= 0 {
		opt.Resync = 30 * time.Second
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	if opt.Kinds == nil {
		opt.Kinds = namespacedKinds()
	}
	l := &Loop{
		client: client, opt: opt, queue: workqueue.New(),
		namespaces: map[string]*corev1.Namespace{}, objects: map[string]map[string]Object{},
	}
	// Namespaces first: the seed must never show objects without theirs.
	kinds := append([]string{"namespace"}, opt.Kinds...)
	l.feed = informer.NewFeed(view, kinds...)
	l.expect = commands.NewExpectations(l.feed)
	return l
}

func namespacedKinds() []string {
	out := []string{}
	seen := map[string]bool{}
	for _, k := range aggregates.Builtin().Kinds() {
		if k.Namespaced {
			out = append(out, k.Token)
			seen[k.Token] = true
		}
	}
	if !seen["horizontalpodautoscaler"] {
		out = append(out, "horizontalpodautoscaler")
	}
	return out
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	go l.feed.Run(ctx, l.observe)
	if l.feed.WaitSeeded(ctx) != nil { // workers start on the whole seed
		return nil
	}
	go workqueue.Every(ctx, l.opt.Resync, func() {
		for _, ns := range l.doomed() {
			l.queue.Add(ns)
		}
	})
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.reconcile)
	return nil
}

func (l *Loop) observe(c projections.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.Kind == "namespace" {
		if c.Deleted {
			delete(l.namespaces, c.Name)
		} else {
			ns := &corev1.Namespace{}
			if json.Unmarshal(c.Raw, ns) != nil {
				return
			}
			l.namespaces[c.Name] = ns
		}
		l.queue.Add(c.Name)
		return
	}
	key := c.Kind + "/" + c.Name
	m := l.objects[c.Namespace]
	if c.Deleted {
		delete(m, key)
		if len(m) == 0 {
			delete(l.objects, c.Namespace)
		}
	} else {
		var meta metav1.PartialObjectMetadata
		if json.Unmarshal(c.Raw, &meta) != nil {
			return
		}
		if m == nil {
			m = map[string]Object{}
			l.objects[c.Namespace] = m
		}
		m[key] = Object{Kind: c.Kind, Name: c.Name, UID: meta.UID, Owners: meta.OwnerReferences, Terminating: meta.DeletionTimestamp != nil}
	}
	if l.doomedLocked(c.Namespace) {
		l.queue.Add(c.Namespace)
	}
}

// doomedLocked: the namespace is gone or terminating.
func (l *Loop) doomedLocked(name string) bool {
	ns := l.namespaces[name]
	return ns == nil || ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
}

func (l *Loop) doomed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for name := range l.objects {
		if l.doomedLocked(name) {
			out = append(out, name)
		}
	}
	for name, ns := range l.namespaces {
		if ns.DeletionTimestamp != nil {
			out = append(out, name)
		}
	}
	return out
}

func (l *Loop) snapshot(name string) (*corev1.Namespace, []Object) {
	l.mu.Lock()
	defer l.mu.Unlock()
	objs := make([]Object, 0, len(l.objects[name]))
	for _, o := range l.objects[name] {
		objs = append(objs, o)
	}
	return l.namespaces[name], objs
}

func (l *Loop) reconcile(ctx context.Context, name string) error {
	l.expect.Wait(ctx, name, 10*time.Second)
	ns, objs := l.snapshot(name)
	res := Reconcile(ns, objs)
	if len(res.Delete) == 0 && !res.Finalize {
		return nil
	}
	b := commands.NewBatch(ctx, l.client, 32)
	for _, o := range res.Delete {
		l.opt.Metrics.Deleted.WithLabelValues(o.Kind).Inc()
		b.Send(o.Kind, aggregates.VerbDelete, aggregates.Command{Namespace: name, Name: o.Name}, "namespace "+name+" is being deleted", apierrors.IsNotFound)
	}
	if res.Finalize {
		b.Send("namespace", aggregates.VerbFinalize, aggregates.Command{Name: name}, "namespace "+name+" is empty", apierrors.IsNotFound)
	}
	seq, err := b.Wait()
	l.expect.Expect(name, seq)
	if err != nil {
		return err
	}
	if len(res.Delete) > 0 {
		l.queue.AddAfter(name, time.Second) // owners gone: their dependents next
	}
	return nil
}
