package deployment

import (
	"context"
	"encoding/json"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
)

// LoopOptions tune the Deployment loop.
type LoopOptions struct {
	Workers int           // default 2
	Resync  time.Duration // default 30s
	Metrics *Metrics
	Now     func() time.Time
}

type (
	deployStore = informer.Store[appsv1.Deployment, *appsv1.Deployment]
	rsStore     = informer.Store[appsv1.ReplicaSet, *appsv1.ReplicaSet]
)

// Loop is the Deployment worker: Deployment and ReplicaSet changes wake
// the Deployment concerned; a reconcile sends what Reconcile returns.
type Loop struct {
	client commands.Commander
	feed   *informer.Feed
	ds     *deployStore
	rss    *rsStore
	queue  *workqueue.Queue
	expect *commands.Expectations
	opt    LoopOptions
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
	if opt.Now == nil {
		opt.Now = time.Now
	}
	l := &Loop{
		client: client, opt: opt, feed: informer.NewFeed(view, "deployment", "replicaset"),
		ds: informer.NewStore[appsv1.Deployment](map[string]informer.IndexFunc[appsv1.Deployment]{
			"uid":                informer.UIDIndex[appsv1.Deployment],
			informer.ByNamespace: informer.NamespaceIndex[appsv1.Deployment],
		}),
		rss: informer.NewStore[appsv1.ReplicaSet](map[string]informer.IndexFunc[appsv1.ReplicaSet]{
			informer.ByNamespace: informer.NamespaceIndex[appsv1.ReplicaSet],
		}),
		queue: workqueue.New(),
	}
	l.expect = commands.NewExpectations(l.feed)
	return l
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	go l.feed.Run(ctx, l.observe)
	go workqueue.Every(ctx, l.opt.Resync, func() {
		for _, k := range l.ds.Keys() {
			l.queue.Add(k)
		}
	})
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.reconcile)
	return nil
}

func (l *Loop) observe(c projections.Change) {
	if c.Kind == "deployment" {
		if _, _, ok := l.ds.Apply(c); ok {
			l.queue.Add(informer.Key(c.Namespace, c.Name))
		}
		return
	}
	old, cur, ok := l.rss.Apply(c)
	if !ok {
		return
	}
	for _, rs := range []*appsv1.ReplicaSet{old, cur} {
		if rs != nil {
			l.wakeFor(rs)
		}
	}
}

func (l *Loop) wakeFor(rs *appsv1.ReplicaSet) {
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		for _, d := range l.ds.ByIndex("uid", string(ref.UID)) {
			l.queue.Add(informer.KeyOf(d))
		}
		return
	}
	for _, d := range l.ds.ByIndex(informer.ByNamespace, rs.Namespace) {
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil && sel.Matches(labels.Set(rs.Labels)) {
			l.queue.Add(informer.KeyOf(d))
		}
	}
}

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.expect.Wait(ctx, key, 10*time.Second)
	d := l.ds.Get(key)
	if d == nil {
		return nil
	}
	start := time.Now()
	res, err := Reconcile(d, l.rss.ByIndex(informer.ByNamespace, d.Namespace), Env{Now: l.opt.Now()})
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("invalid").Inc()
		return nil
	}
	b := commands.NewBatch(ctx, l.client, 16)
	l.send(b, d, res)
	seq, err := b.Wait()
	l.expect.Expect(key, seq)
	l.opt.Metrics.Duration.Observe(time.Since(start).Seconds())
	if res.RequeueAfter > 0 {
		l.queue.AddAfter(key, res.RequeueAfter)
	}
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("error").Inc()
		return err
	}
	l.opt.Metrics.Reconciles.WithLabelValues("ok").Inc()
	return nil
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
