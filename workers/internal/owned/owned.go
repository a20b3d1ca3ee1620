// Package owned is the skeleton of a controller loop that reconciles owner
// objects (ReplicaSets, Jobs, …) from the children they control (pods,
// Jobs, …): one Feed over both kinds, an owner Store indexed by UID, a
// child Store indexed by controller, a work queue of owner keys, and the
// rule that wakes an owner — its own change, or a change of a child it
// controls (before or after the change). A loop built on it keeps only its
// reconcile: what to send for one owner key.
package owned

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
)

// Config describes an owner/children loop.
type Config[O, C any] struct {
	Owner      string // the owner's kind token in the view: "replicaset"
	Child      string // the child's kind token: "pod"
	Controller string // the owner's Kind in a child's ownerReferences: "ReplicaSet"

	Workers int           // default 2
	Resync  time.Duration // default 30s: every owner is queued this often

	// Selector, when set, makes the loop wake adopters: a change of a child
	// without a controller queues every owner of its namespace whose
	// selector matches the child's labels.
	Selector func(*O) *metav1.LabelSelector
	// ChildIndexes are indexes of the children besides informer.ByController.
	ChildIndexes map[string]informer.IndexFunc[C]

	// Extra are further kinds the feed carries (before the children, in
	// this order); their changes go to Observe.
	Extra   []string
	Observe func(projections.Change)
}

// Loop holds an owner/children loop's feed, stores and queue. Owners are
// indexed by informer.ByUID (and informer.ByNamespace with a Selector),
// children by informer.ByController.
type Loop[O, C any, OP informer.Object[O], CP informer.Object[C]] struct {
	Feed     *informer.Feed
	Owners   *informer.Store[O, OP]
	Children *informer.Store[C, CP]
	Queue    *workqueue.Queue
	Expect   *commands.Expectations
	cfg      Config[O, C]
}

// New registers on view and returns the loop; Run drives it.
func New[O, C any, OP informer.Object[O], CP informer.Object[C]](view *projections.View, cfg Config[O, C]) *Loop[O, C, OP, CP] {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 30 * time.Second
	}
	owners := map[string]informer.IndexFunc[O]{informer.ByUID: informer.UIDIndex[O, OP]}
	if cfg.Selector != nil {
		owners[informer.ByNamespace] = informer.NamespaceIndex[O, OP]
	}
	children := map[string]informer.IndexFunc[C]{informer.ByController: informer.ControllerIndex[C, CP]}
	for name, fn := range cfg.ChildIndexes {
		children[name] = fn
	}
	kinds := append(append([]string{cfg.Owner}, cfg.Extra...), cfg.Child)
	l := &Loop[O, C, OP, CP]{
		Feed:     informer.NewFeed(view, kinds...),
		Owners:   informer.NewStore[O, OP](owners),
		Children: informer.NewStore[C, CP](children),
		Queue:    workqueue.New(),
		cfg:      cfg,
	}
	l.Expect = commands.NewExpectations(l.Feed)
	return l
}

// Run feeds the stores, queues every owner each Resync, and calls
// reconcile for queued owner keys with Workers goroutines until ctx ends.
// The workers start once the stores hold what the view held at New, so
// no owner is reconciled against a part of its children.
func (l *Loop[O, C, OP, CP]) Run(ctx context.Context, reconcile func(context.Context, string) error) error {
	go l.Feed.Run(ctx, l.observe)
	if l.Feed.WaitSeeded(ctx) != nil {
		return nil
	}
	go workqueue.Every(ctx, l.cfg.Resync, l.WakeAll)
	workqueue.Run(ctx, l.Queue, l.cfg.Workers, reconcile)
	return nil
}

// WakeAll queues every owner.
func (l *Loop[O, C, OP, CP]) WakeAll() {
	for _, k := range l.Owners.Keys() {
		l.Queue.Add(k)
	}
}

// ChildrenOf returns the children the owner controls.
func (l *Loop[O, C, OP, CP]) ChildrenOf(o *O) []*C {
	return l.Children.ByIndex(informer.ByController, string(OP(o).GetUID()))
}

func (l *Loop[O, C, OP, CP]) observe(c projections.Change) {
	switch c.Kind {
	case l.cfg.Owner:
		if _, _, ok := l.Owners.Apply(c); ok {
			l.Queue.Add(informer.Key(c.Namespace, c.Name))
		}
	case l.cfg.Child:
		old, cur, ok := l.Children.Apply(c)
		if !ok {
			return
		}
		for _, child := range []*C{old, cur} {
			if child != nil {
				l.wakeFor(child)
			}
		}
	default:
		if l.cfg.Observe != nil {
			l.cfg.Observe(c)
		}
	}
}

// wakeFor queues the child's controlling owner, or for an orphan (with a
// Selector) every owner of its namespace whose selector matches it.
func (l *Loop[O, C, OP, CP]) wakeFor(child *C) {
	if ref := metav1.GetControllerOfNoCopy(CP(child)); ref != nil {
		if ref.Kind == l.cfg.Controller {
			for _, o := range l.Owners.ByIndex(informer.ByUID, string(ref.UID)) {
				l.Queue.Add(informer.KeyOf(OP(o)))
			}
		}
		return
	}
	if l.cfg.Selector == nil {
		return
	}
	set := labels.Set(CP(child).GetLabels())
	for _, o := range l.Owners.ByIndex(informer.ByNamespace, CP(child).GetNamespace()) {
		if sel, err := metav1.LabelSelectorAsSelector(l.cfg.Selector(o)); err == nil && sel.Matches(set) {
			l.Queue.Add(informer.KeyOf(OP(o)))
		}
	}
}
