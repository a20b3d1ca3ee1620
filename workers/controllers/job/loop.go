package job

import (
	"context"
	"encoding/json"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// LoopOptions tune the Job loop.
type LoopOptions struct {
	Workers int           // default 2
	Resync  time.Duration // default 30s
	Now     func() time.Time
	Metrics *Metrics
}

// Loop is the Job worker: Job changes and changes of a Job's pods wake it.
type Loop struct {
	base   *owned.Loop[batchv1.Job, corev1.Pod, *batchv1.Job, *corev1.Pod]
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
	return &Loop{
		base: owned.New(view, owned.Config[batchv1.Job, corev1.Pod]{
			Owner: "job", Child: "pod", Controller: "Job", Workers: opt.Workers, Resync: opt.Resync,
		}),
		client: client, opt: opt, names: owned.RandomNames(),
	}
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error { return l.base.Run(ctx, l.reconcile) }

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.base.Expect.Wait(ctx, key, 10*time.Second)
	job := l.base.Owners.Get(key)
	if job == nil {
		return nil
	}
	res, err := Reconcile(job, l.base.ChildrenOf(job), Env{Now: l.opt.Now(), NewName: l.names})
	if err != nil {
		l.opt.Metrics.Invalid()
		return nil
	}
	b := commands.NewBatch(ctx, l.client, 64)
	for _, p := range res.Create {
		raw, _ := json.Marshal(p)
		l.opt.Metrics.Created.Inc()
		b.Send("pod", aggregates.VerbCreate, aggregates.Command{Namespace: p.Namespace, Name: p.Name, Object: raw}, "job "+job.Name+" needs more active pods", nil)
	}
	for _, p := range res.Delete {
		b.Send("pod", aggregates.VerbDelete, aggregates.Command{Namespace: p.Namespace, Name: p.Name}, "job "+job.Name+" has too many active pods", apierrors.IsNotFound)
	}
	if !finished(&job.Status) && finished(&res.Status) {
		for _, c := range res.Status.Conditions {
			if c.Status == corev1.ConditionTrue {
				l.opt.Metrics.Finished.WithLabelValues(string(c.Type), c.Reason).Inc()
			}
		}
	}
	commands.Status(b, "job", job.Namespace, job.Name, job.Status, res.Status)
	seq, err := b.Wait()
	l.base.Expect.Expect(key, seq)
	if res.RequeueAfter > 0 {
		l.base.Queue.AddAfter(key, res.RequeueAfter)
	}
	return l.opt.Metrics.Result(err)
}
