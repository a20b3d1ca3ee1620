package cronjob

import (
	"context"
	"encoding/json"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/owned"
)

// LoopOptions tune the CronJob loop.
type LoopOptions struct {
	Workers int           // default 2
	Resync  time.Duration // default 30s
	Clock   Clock         // default RealClock
	Metrics *Metrics
}

// Loop is the CronJob worker: CronJob changes, changes of the Jobs a
// CronJob controls, and each CronJob's next schedule time wake it.
type Loop struct {
	base   *owned.Loop[batchv1.CronJob, batchv1.Job, *batchv1.CronJob, *batchv1.Job]
	client commands.Commander
	timers *timers
	opt    LoopOptions
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Clock == nil {
		opt.Clock = RealClock{}
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	return &Loop{
		base: owned.New(view, owned.Config[batchv1.CronJob, batchv1.Job]{
			Owner: "cronjob", Child: "job", Controller: "CronJob", Workers: opt.Workers, Resync: opt.Resync,
		}),
		client: client, opt: opt,
		timers: &timers{clock: opt.Clock, stop: map[string]func() bool{}},
	}
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error { return l.base.Run(ctx, l.reconcile) }

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.base.Expect.Wait(ctx, key, 10*time.Second)
	cj := l.base.Owners.Get(key)
	if cj == nil {
		l.timers.clear(key)
		return nil
	}
	res, err := Reconcile(cj, l.base.ChildrenOf(cj), Env{Now: l.opt.Clock.Now()})
	if err != nil {
		l.opt.Metrics.Invalid()
		return nil // a bad schedule or time zone waits for a fix of the CronJob
	}
	b := commands.NewBatch(ctx, l.client, 16)
	for _, j := range res.Delete {
		b.Send("job", aggregates.VerbDelete, aggregates.Command{Namespace: j.Namespace, Name: j.Name}, deleteReason(cj, j), apierrors.IsNotFound)
	}
	if j := res.Create; j != nil {
		raw, _ := json.Marshal(j)
		l.opt.Metrics.Started.Inc()
		b.Send("job", aggregates.VerbCreate, aggregates.Command{Namespace: j.Namespace, Name: j.Name, Object: raw},
			"cronjob "+cj.Name+" scheduled at "+j.Annotations[AnnotationScheduledTimestamp], apierrors.IsAlreadyExists)
	}
	if res.Skipped != "" {
		l.opt.Metrics.Skipped.Inc()
	}
	commands.Status(b, "cronjob", cj.Namespace, cj.Name, cj.Status, res.Status)
	seq, err := b.Wait()
	l.base.Expect.Expect(key, seq)
	if res.RequeueAfter > 0 {
		l.timers.set(key, res.RequeueAfter, func() { l.base.Queue.Add(key) })
	} else {
		l.timers.clear(key)
	}
	return l.opt.Metrics.Result(err)
}

func deleteReason(cj *batchv1.CronJob, j *batchv1.Job) string {
	if finishedAs(j) == "" {
		return "cronjob " + cj.Name + " replaces its running job (concurrencyPolicy Replace)"
	}
	return "cronjob " + cj.Name + " keeps only its latest finished jobs (history limit)"
}
