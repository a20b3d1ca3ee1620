package replicaset

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
)

// LoopOptions tune the ReplicaSet loop.
type LoopOptions struct {
	Workers int           // default 4
	Resync  time.Duration // default 30s
	Metrics *Metrics
	Now     func() time.Time
}

type (
	rsStore  = informer.Store[appsv1.ReplicaSet, *appsv1.ReplicaSet]
	podStore = informer.Store[corev1.Pod, *corev1.Pod]
)

// Loop is the ReplicaSet worker: ReplicaSet and pod changes wake the
// ReplicaSet concerned; a reconcile sends what Reconcile returns.
type Loop struct {
	client commands.Commander
	feed   *informer.Feed
	rss    *rsStore
	pods   *podStore
	queue  *workqueue.Queue
	expect *commands.Expectations
	opt    LoopOptions

	mu    sync.Mutex
	names func(string) string
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Workers <= 0 {
		opt.Workers = 4
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
		client: client, opt: opt, feed: informer.NewFeed(view, "replicaset", "pod"),
		rss: informer.NewStore[appsv1.ReplicaSet](map[string]informer.IndexFunc[appsv1.ReplicaSet]{
			"uid":                informer.UIDIndex[appsv1.ReplicaSet],
			informer.ByNamespace: informer.NamespaceIndex[appsv1.ReplicaSet],
		}),
		pods: informer.NewStore[corev1.Pod](map[string]informer.IndexFunc[corev1.Pod]{
			informer.ByController: informer.ControllerIndex[corev1.Pod],
		}),
		queue: workqueue.New(),
		names: RandomNames(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))),
	}
	l.expect = commands.NewExpectations(l.feed)
	return l
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	go l.feed.Run(ctx, l.observe)
	go workqueue.Every(ctx, l.opt.Resync, func() {
		for _, k := range l.rss.Keys() {
			l.queue.Add(k)
		}
	})
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.reconcile)
	return nil
}

func (l *Loop) observe(c projections.Change) {
	if c.Kind == "replicaset" {
		if _, _, ok := l.rss.Apply(c); ok {
			l.queue.Add(informer.Key(c.Namespace, c.Name))
		}
		return
	}
	old, cur, ok := l.pods.Apply(c)
	if !ok {
		return
	}
	for _, p := range []*corev1.Pod{old, cur} {
		if p != nil {
			l.wakeFor(p)
		}
	}
}

// wakeFor queues the pod's controlling ReplicaSet, or for an orphan every
// ReplicaSet of its namespace whose selector matches it.
func (l *Loop) wakeFor(p *corev1.Pod) {
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		if ref.Kind == "ReplicaSet" {
			for _, rs := range l.rss.ByIndex("uid", string(ref.UID)) {
				l.queue.Add(informer.KeyOf(rs))
			}
		}
		return
	}
	for _, rs := range l.rss.ByIndex(informer.ByNamespace, p.Namespace) {
		if sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector); err == nil && sel.Matches(labels.Set(p.Labels)) {
			l.queue.Add(informer.KeyOf(rs))
		}
	}
}

func (l *Loop) newName(prefix string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.names(prefix)
}

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.expect.Wait(ctx, key, 10*time.Second)
	rs := l.rss.Get(key)
	if rs == nil {
		return nil
	}
	pods := append(l.pods.ByIndex(informer.ByController, string(rs.UID)), l.pods.ByIndex(informer.ByController, "orphan/"+rs.Namespace)...)
	start := time.Now()
	res, err := Reconcile(rs, pods, Env{Now: l.opt.Now(), NewName: l.newName})
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("invalid").Inc()
		return nil // a bad selector waits for a fix of the ReplicaSet
	}
	b := commands.NewBatch(ctx, l.client, 64)
	l.send(b, rs, res)
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
