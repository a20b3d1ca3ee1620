package daemonset

import (
	"context"
	"encoding/json"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// LoopOptions tune the DaemonSet loop.
type LoopOptions struct {
	Workers int           // default 2
	Resync  time.Duration // default 30s
	Now     func() time.Time
	Metrics *Metrics
}

// Loop is the DaemonSet worker: DaemonSet changes, node changes (which
// wake every DaemonSet) and changes of daemon pods drive reconciles.
type Loop struct {
	base   *owned.Loop[appsv1.DaemonSet, corev1.Pod, *appsv1.DaemonSet, *corev1.Pod]
	nodes  *informer.Store[corev1.Node, *corev1.Node]
	client commands.Commander
	opt    LoopOptions
	names  func(string) string
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	l := &Loop{nodes: informer.NewStore[corev1.Node](nil), client: client, opt: opt, names: owned.RandomNames()}
	l.base = owned.New(view, owned.Config[appsv1.DaemonSet, corev1.Pod]{
		Owner: "daemonset", Child: "pod", Controller: "DaemonSet", Workers: opt.Workers, Resync: opt.Resync,
		Extra: []string{"node"}, Observe: l.observeNode,
	})
	return l
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error { return l.base.Run(ctx, l.reconcile) }

func (l *Loop) observeNode(c projections.Change) {
	if _, _, ok := l.nodes.Apply(c); ok {
		l.base.WakeAll()
	}
}

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.base.Expect.Wait(ctx, key, 10*time.Second)
	ds := l.base.Owners.Get(key)
	if ds == nil {
		return nil
	}
	res, err := Reconcile(ds, l.nodes.List(), l.base.ChildrenOf(ds), Env{Now: l.opt.Now(), NewName: l.names})
	if err != nil {
		l.opt.Metrics.Invalid()
		return nil
	}
	b := commands.NewBatch(ctx, l.client, 64)
	for _, p := range res.Create {
		raw, _ := json.Marshal(p)
		l.opt.Metrics.Created.Inc()
		b.Send("pod", aggregates.VerbCreate, aggregates.Command{Namespace: p.Namespace, Name: p.Name, Object: raw}, "daemonset "+ds.Name+" has no pod on "+targetNode(p), nil)
	}
	for _, p := range res.Delete {
		l.opt.Metrics.Deleted.Inc()
		b.Send("pod", aggregates.VerbDelete, aggregates.Command{Namespace: p.Namespace, Name: p.Name}, "daemonset "+ds.Name+" does not want this pod", apierrors.IsNotFound)
	}
	commands.Status(b, "daemonset", ds.Namespace, ds.Name, ds.Status, res.Status)
	seq, err := b.Wait()
	l.base.Expect.Expect(key, seq)
	return l.opt.Metrics.Result(err)
}
