package replicaset

import (
	"context"
	"encoding/json"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// LoopOptions tune the ReplicaSet loop.
type LoopOptions struct {
	Workers int           // default 4
	Resync  time.Duration // default 30s
	Metrics *Metrics
	Now     func() time.Time
}

// Loop is the ReplicaSet worker: ReplicaSet and pod changes wake the
// ReplicaSet concerned (for an orphan pod, every ReplicaSet of its
// namespace whose selector matches it); a reconcile sends what Reconcile
// returns.
type Loop struct {
	base   *owned.Loop[appsv1.ReplicaSet, corev1.Pod, *appsv1.ReplicaSet, *corev1.Pod]
	client commands.Commander
	opt    LoopOptions
	names  func(string) string
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Workers <= 0 {
		opt.Workers = 4
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Loop{
		base: owned.New(view, owned.Config[appsv1.ReplicaSet, corev1.Pod]{
			Owner: "replicaset", Child: "pod", Controller: "ReplicaSet",
			Workers: opt.Workers, Resync: opt.Resync,
			Selector: func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector },
		}),
		client: client, opt: opt, names: owned.RandomNames(),
	}
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error { return l.base.Run(ctx, l.reconcile) }

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.base.Expect.Wait(ctx, key, 10*time.Second)
	rs := l.base.Owners.Get(key)
	if rs == nil {
		return nil
	}
	pods := append(l.base.ChildrenOf(rs), l.base.Children.ByIndex(informer.ByController, "orphan/"+rs.Namespace)...)
	start := time.Now()
	res, err := Reconcile(rs, pods, Env{Now: l.opt.Now(), NewName: l.names})
	if err != nil {
		l.opt.Metrics.Invalid()
		return nil // a bad selector waits for a fix of the ReplicaSet
	}
	b := commands.NewBatch(ctx, l.client, 64)
	l.send(b, rs, res)
	seq, err := b.Wait()
	l.base.Expect.Expect(key, seq)
	l.opt.Metrics.Observe(start)
	if res.RequeueAfter > 0 {
		l.base.Queue.AddAfter(key, res.RequeueAfter)
	}
	return l.opt.Metrics.Result(err)
}

func (l *Loop) send(b *commands.Batch, rs *appsv1.ReplicaSet, res Result) {
	ref := ControllerRef(rs)
	for _, p := range res.Adopt {
		refs := append(append([]metav1.OwnerReference{}, p.OwnerReferences...), ref)
		commands.Patch(b, "pod", p.Namespace, p.Name, p.ResourceVersion, map[string]any{"metadata": map[string]any{"ownerReferences": refs}}, "adopted by replicaset "+rs.Name, commands.IsConflict)
	}
	for _, p := range res.Release {
		commands.Patch(b, "pod", p.Namespace, p.Name, p.ResourceVersion, map[string]any{"metadata": map[string]any{"ownerReferences": withoutController(p.OwnerReferences)}}, "released by replicaset "+rs.Name, commands.IsConflict)
	}
	for _, p := range res.Create {
		raw, _ := json.Marshal(p)
		l.opt.Metrics.Created.Inc()
		b.Send("pod", aggregates.VerbCreate, aggregates.Command{Namespace: p.Namespace, Name: p.Name, Object: raw}, "replicaset "+rs.Name+" has too few pods", nil)
	}
	for _, p := range res.Delete {
		l.opt.Metrics.Deleted.Inc()
		b.Send("pod", aggregates.VerbDelete, aggregates.Command{Namespace: p.Namespace, Name: p.Name}, "replicaset "+rs.Name+" has too many pods", apierrors.IsNotFound)
	}
	if len(res.Delete) > 0 {
		// The status already counts the deleted pods out. Appended before
		// their deletions, it would tell a rolling Deployment that room was
		// free while the pods still ran, and the surge would overshoot.
		b.Barrier()
	}
	commands.Status(b, "replicaset", rs.Namespace, rs.Name, rs.Status, res.Status)
}

func withoutController(refs []metav1.OwnerReference) []metav1.OwnerReference {
	out := []metav1.OwnerReference{}
	for _, r := range refs {
		if r.Controller == nil || !*r.Controller {
			out = append(out, r)
		}
	}
	return out
}
