package statefulset

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
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
)

// LoopOptions tune the StatefulSet loop.
type LoopOptions struct {
	Workers int           // default 2
	Resync  time.Duration // default 30s
	DataDir string        // nodes' data dir, root of claim volumes; default DefaultDataDir
	Now     func() time.Time
	Metrics *Metrics
}

// Loop is the StatefulSet worker: StatefulSet changes and changes of a
// StatefulSet's pods wake it.
type Loop struct {
	client commands.Commander
	feed   *informer.Feed
	sets   *informer.Store[appsv1.StatefulSet, *appsv1.StatefulSet]
	pods   *informer.Store[corev1.Pod, *corev1.Pod]
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
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	l := &Loop{
		client: client, opt: opt, feed: informer.NewFeed(view, "statefulset", "pod"),
		sets:  informer.NewStore[appsv1.StatefulSet](map[string]informer.IndexFunc[appsv1.StatefulSet]{"uid": informer.UIDIndex[appsv1.StatefulSet]}),
		pods:  informer.NewStore[corev1.Pod](map[string]informer.IndexFunc[corev1.Pod]{informer.ByController: informer.ControllerIndex[corev1.Pod]}),
		queue: workqueue.New(),
	}
	l.expect = commands.NewExpectations(l.feed)
	return l
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	go l.feed.Run(ctx, l.observe)
	go workqueue.Every(ctx, l.opt.Resync, func() {
		for _, k := range l.sets.Keys() {
			l.queue.Add(k)
		}
	})
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.reconcile)
	return nil
}

func (l *Loop) observe(c projections.Change) {
	if c.Kind == "statefulset" {
		if _, _, ok := l.sets.Apply(c); ok {
			l.queue.Add(informer.Key(c.Namespace, c.Name))
		}
		return
	}
	old, cur, ok := l.pods.Apply(c)
	if !ok {
		return
	}
	for _, p := range []*corev1.Pod{old, cur} {
		if p == nil {
			continue
		}
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.Kind == "StatefulSet" {
			for _, s := range l.sets.ByIndex("uid", string(ref.UID)) {
				l.queue.Add(informer.KeyOf(s))
			}
		}
	}
}

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.expect.Wait(ctx, key, 10*time.Second)
	set := l.sets.Get(key)
	if set == nil {
		return nil
	}
	start := time.Now()
	res, err := Reconcile(set, l.pods.ByIndex(informer.ByController, string(set.UID)), Env{Now: l.opt.Now(), DataDir: l.opt.DataDir})
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("invalid").Inc()
		return nil // a bad selector waits for a fix of the StatefulSet
	}
	b := commands.NewBatch(ctx, l.client, 64)
	l.send(b, set, res)
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

func (l *Loop) send(b *commands.Batch, set *appsv1.StatefulSet, res Result) {
	for _, p := range res.Create {
		raw, _ := json.Marshal(p)
		l.opt.Metrics.Created.Inc()
		b.Send("pod", aggregates.VerbCreate, aggregates.Command{Namespace: p.Namespace, Name: p.Name, Object: raw},
			"statefulset "+set.Name+" creates ordinal "+p.Labels[LabelPodIndex], apierrors.IsAlreadyExists)
	}
	for _, p := range res.Delete {
		l.opt.Metrics.Deleted.Inc()
		b.Send("pod", aggregates.VerbDelete, aggregates.Command{Namespace: p.Namespace, Name: p.Name},
			deleteReason(set, p, res), apierrors.IsNotFound)
	}
	if res.VolumeNodes != nil {
		raw, _ := json.Marshal(res.VolumeNodes)
		patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationVolumeNodes: string(raw)}}}
		commands.Patch(b, "statefulset", set.Namespace, set.Name, set.ResourceVersion, patch, "statefulset "+set.Name+" volumes are on their nodes", apierrors.IsConflict)
	}
	commands.Status(b, "statefulset", set.Namespace, set.Name, set.Status, res.Status)
}

func deleteReason(set *appsv1.StatefulSet, p *corev1.Pod, res Result) string {
	switch {
	case finished(p):
		return "statefulset " + set.Name + " replaces finished pod " + p.Name
	case ordinalOf(set, p) >= int(replicasOf(set)):
		return "statefulset " + set.Name + " scales down"
	default:
		return "statefulset " + set.Name + " updates " + p.Name + " to revision " + res.Status.UpdateRevision
	}
}
