package daemonset

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

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
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
	client commands.Commander
	feed   *informer.Feed
	dss    *informer.Store[appsv1.DaemonSet, *appsv1.DaemonSet]
	nodes  *informer.Store[corev1.Node, *corev1.Node]
	pods   *informer.Store[corev1.Pod, *corev1.Pod]
	queue  *workqueue.Queue
	expect *commands.Expectations
	opt    LoopOptions
	mu     sync.Mutex
	rng    *rand.Rand
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.Resync <= 0 {
		opt.Resync = 30 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	l := &Loop{
		client: client, opt: opt, feed: informer.NewFeed(view, "daemonset", "node", "pod"),
		dss:   informer.NewStore[appsv1.DaemonSet](map[string]informer.IndexFunc[appsv1.DaemonSet]{"uid": informer.UIDIndex[appsv1.DaemonSet]}),
		nodes: informer.NewStore[corev1.Node](nil),
		pods:  informer.NewStore[corev1.Pod](map[string]informer.IndexFunc[corev1.Pod]{informer.ByController: informer.ControllerIndex[corev1.Pod]}),
		queue: workqueue.New(),
		rng:   rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	l.expect = commands.NewExpectations(l.feed)
	return l
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	go l.feed.Run(ctx, l.observe)
	go workqueue.Every(ctx, l.opt.Resync, l.wakeAll)
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.reconcile)
	return nil
}

func (l *Loop) wakeAll() {
	for _, k := range l.dss.Keys() {
		l.queue.Add(k)
	}
}

func (l *Loop) observe(c projections.Change) {
	switch c.Kind {
	case "daemonset":
		if _, _, ok := l.dss.Apply(c); ok {
			l.queue.Add(informer.Key(c.Namespace, c.Name))
		}
	case "node":
		if _, _, ok := l.nodes.Apply(c); ok {
			l.wakeAll()
		}
	case "pod":
		old, cur, ok := l.pods.Apply(c)
		if !ok {
			return
		}
		for _, p := range []*corev1.Pod{old, cur} {
			if ref := ownerRef(p); ref != nil {
				for _, ds := range l.dss.ByIndex("uid", string(ref.UID)) {
					l.queue.Add(informer.KeyOf(ds))
				}
			}
		}
	}
}

func ownerRef(p *corev1.Pod) *metav1.OwnerReference {
	if p == nil {
		return nil
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.Kind == "DaemonSet" {
		return ref
	}
	return nil
}

func (l *Loop) newName(prefix string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := make([]byte, 5)
	for i := range b {
		b[i] = "bcdfghjklmnpqrstvwxz2456789"[l.rng.IntN(27)]
	}
	return prefix + string(b)
}

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.expect.Wait(ctx, key, 10*time.Second)
	ds := l.dss.Get(key)
	if ds == nil {
		return nil
	}
	res, err := Reconcile(ds, l.nodes.List(), l.pods.ByIndex(informer.ByController, string(ds.UID)), Env{Now: l.opt.Now(), NewName: l.newName})
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("invalid").Inc()
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
	l.expect.Expect(key, seq)
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("error").Inc()
		return err
	}
	l.opt.Metrics.Reconciles.WithLabelValues("ok").Inc()
	return nil
}
