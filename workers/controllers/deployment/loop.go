package deployment

import (
	"context"
	"encoding/json"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// LoopOptions tune the Deployment loop.
type LoopOptions struct {
	Workers int           // default 2
	Resync  time.Duration // default 30s
	Metrics *Metrics
	Now     func() time.Time
}

// Loop is the Deployment worker: Deployment and ReplicaSet changes wake
// the Deployment concerned (for an orphan ReplicaSet, every Deployment of
// its namespace whose selector matches it); a reconcile sends what
// Reconcile returns.
type Loop struct {
	base   *owned.Loop[appsv1.Deployment, appsv1.ReplicaSet, *appsv1.Deployment, *appsv1.ReplicaSet]
	client commands.Commander
	opt    LoopOptions
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Loop{
		base: owned.New(view, owned.Config[appsv1.Deployment, appsv1.ReplicaSet]{
			Owner: "deployment", Child: "replicaset", Controller: "Deployment",
			Workers: opt.Workers, Resync: opt.Resync,
			Selector:     func(d *appsv1.Deployment) *metav1.LabelSelector { return d.Spec.Selector },
			ChildIndexes: map[string]informer.IndexFunc[appsv1.ReplicaSet]{informer.ByNamespace: informer.NamespaceIndex[appsv1.ReplicaSet]},
		}),
		client: client, opt: opt,
	}
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error { return l.base.Run(ctx, l.reconcile) }

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.base.Expect.Wait(ctx, key, 10*time.Second)
	d := l.base.Owners.Get(key)
	if d == nil {
		return nil
	}
	start := time.Now()
	res, err := Reconcile(d, l.base.Children.ByIndex(informer.ByNamespace, d.Namespace), Env{Now: l.opt.Now()})
	if err != nil {
		l.opt.Metrics.Invalid()
		return nil
	}
	b := commands.NewBatch(ctx, l.client, 16)
	l.send(b, d, res)
	seq, err := b.Wait()
	l.base.Expect.Expect(key, seq)
	l.opt.Metrics.Observe(start)
	if res.RequeueAfter > 0 {
		l.base.Queue.AddAfter(key, res.RequeueAfter)
	}
	return l.opt.Metrics.Result(err)
}

func (l *Loop) send(b *commands.Batch, d *appsv1.Deployment, res Result) {
	ref := ControllerRef(d)
	for _, rs := range res.Adopt {
		refs := append(append([]metav1.OwnerReference{}, rs.OwnerReferences...), ref)
		commands.Patch(b, "replicaset", rs.Namespace, rs.Name, rs.ResourceVersion, map[string]any{"metadata": map[string]any{"ownerReferences": refs}}, "adopted by deployment "+d.Name, commands.IsConflict)
	}
	for _, rs := range res.Release {
		commands.Patch(b, "replicaset", rs.Namespace, rs.Name, rs.ResourceVersion, map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{}}}, "released by deployment "+d.Name, commands.IsConflict)
	}
	if rs := res.Create; rs != nil {
		l.opt.Metrics.Created.Inc()
		raw, _ := json.Marshal(rs)
		b.Send("replicaset", aggregates.VerbCreate, aggregates.Command{Namespace: rs.Namespace, Name: rs.Name, Object: raw}, "new revision of deployment "+d.Name, apierrors.IsAlreadyExists)
	}
	for _, rs := range res.Update {
		patch := map[string]any{"spec": map[string]any{"replicas": rs.Spec.Replicas}, "metadata": map[string]any{"annotations": rs.Annotations}}
		commands.Patch(b, "replicaset", rs.Namespace, rs.Name, "", patch, "rollout of deployment "+d.Name, apierrors.IsNotFound)
	}
	for _, rs := range res.Delete {
		b.Send("replicaset", aggregates.VerbDelete, aggregates.Command{Namespace: rs.Namespace, Name: rs.Name}, "beyond revisionHistoryLimit of deployment "+d.Name, apierrors.IsNotFound)
	}
	if res.Revision != "" && res.Revision != "0" && d.Annotations[RevisionAnnotation] != res.Revision {
		commands.Patch(b, "deployment", d.Namespace, d.Name, "", map[string]any{"metadata": map[string]any{"annotations": map[string]string{RevisionAnnotation: res.Revision}}}, "revision", apierrors.IsNotFound)
	}
	commands.Status(b, "deployment", d.Namespace, d.Name, d.Status, res.Status)
}
