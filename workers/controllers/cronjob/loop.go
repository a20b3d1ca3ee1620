package cronjob

import (
	"context"
	"encoding/json"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
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
	client commands.Commander
	feed   *informer.Feed
	crons  *informer.Store[batchv1.CronJob, *batchv1.CronJob]
	jobs   *informer.Store[batchv1.Job, *batchv1.Job]
	queue  *workqueue.Queue
	expect *commands.Expectations
	timers *timers
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
	if opt.Clock == nil {
		opt.Clock = RealClock{}
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	l := &Loop{
		client: client, opt: opt, feed: informer.NewFeed(view, "cronjob", "job"),
		crons:  informer.NewStore[batchv1.CronJob](map[string]informer.IndexFunc[batchv1.CronJob]{"uid": informer.UIDIndex[batchv1.CronJob]}),
		jobs:   informer.NewStore[batchv1.Job](map[string]informer.IndexFunc[batchv1.Job]{informer.ByController: informer.ControllerIndex[batchv1.Job]}),
		queue:  workqueue.New(),
		timers: &timers{clock: opt.Clock, stop: map[string]func() bool{}},
	}
	l.expect = commands.NewExpectations(l.feed)
	return l
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	go l.feed.Run(ctx, l.observe)
	go workqueue.Every(ctx, l.opt.Resync, func() {
		for _, k := range l.crons.Keys() {
			l.queue.Add(k)
		}
	})
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.reconcile)
	return nil
}

func (l *Loop) observe(c projections.Change) {
	if c.Kind == "cronjob" {
		if _, _, ok := l.crons.Apply(c); ok {
			l.queue.Add(informer.Key(c.Namespace, c.Name))
		}
		return
	}
	old, cur, ok := l.jobs.Apply(c)
	if !ok {
		return
	}
	for _, j := range []*batchv1.Job{old, cur} {
		if j == nil {
			continue
		}
		if ref := metav1.GetControllerOfNoCopy(j); ref != nil && ref.Kind == "CronJob" {
			for _, cj := range l.crons.ByIndex("uid", string(ref.UID)) {
				l.queue.Add(informer.KeyOf(cj))
			}
		}
	}
}

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.expect.Wait(ctx, key, 10*time.Second)
	cj := l.crons.Get(key)
	if cj == nil {
		l.timers.clear(key)
		return nil
	}
	res, err := Reconcile(cj, l.jobs.ByIndex(informer.ByController, string(cj.UID)), Env{Now: l.opt.Clock.Now()})
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("invalid").Inc()
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
	l.expect.Expect(key, seq)
	if res.RequeueAfter > 0 {
		l.timers.set(key, res.RequeueAfter, func() { l.queue.Add(key) })
	} else {
		l.timers.clear(key)
	}
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("error").Inc()
		return err
	}
	l.opt.Metrics.Reconciles.WithLabelValues("ok").Inc()
	return nil
}

func deleteReason(cj *batchv1.CronJob, j *batchv1.Job) string {
	if finishedAs(j) == "" {
		return "cronjob " + cj.Name + " replaces its running job (concurrencyPolicy Replace)"
	}
	return "cronjob " + cj.Name + " keeps only its latest finished jobs (history limit)"
}
