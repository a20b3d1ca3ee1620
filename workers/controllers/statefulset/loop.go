package statefulset

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
	"github.com/gantry-sh/gantry/workers/internal/owned"
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
	base   *owned.Loop[appsv1.StatefulSet, corev1.Pod, *appsv1.StatefulSet, *corev1.Pod]
	client commands.Commander
	opt    LoopOptions
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	return &Loop{
		base: owned.New(view, owned.Config[appsv1.StatefulSet, corev1.Pod]{
			Owner: "statefulset", Child: "pod", Controller: "StatefulSet", Workers: opt.Workers, Resync: opt.Resync,
		}),
		client: client, opt: opt,
	}
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error { return l.base.Run(ctx, l.reconcile) }

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.base.Expect.Wait(ctx, key, 10*time.Second)
	set := l.base.Owners.Get(key)
	if set == nil {
		return nil
	}
	start := time.Now()
	res, err := Reconcile(set, l.base.ChildrenOf(set), Env{Now: l.opt.Now(), DataDir: l.opt.DataDir})
	if err != nil {
		l.opt.Metrics.Invalid()
		return nil // a bad selector waits for a fix of the StatefulSet
	}
	b := commands.NewBatch(ctx, l.client, 64)
	l.send(b, set, res)
	seq, err := b.Wait()
	l.base.Expect.Expect(key, seq)
	l.opt.Metrics.Observe(start)
	if res.RequeueAfter > 0 {
		l.base.Queue.AddAfter(key, res.RequeueAfter)
	}
	return l.opt.Metrics.Result(err)
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
