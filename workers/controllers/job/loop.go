package job

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
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
	client commands.Commander
	feed   *informer.Feed
	jobs   *informer.Store[batchv1.Job, *batchv1.Job]
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
		client: client, opt: opt, feed: informer.NewFeed(view, "job", "pod"),
		jobs:  informer.NewStore[batchv1.Job](map[string]informer.IndexFunc[batchv1.Job]{"uid": informer.UIDIndex[batchv1.Job]}),
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
	go workqueue.Every(ctx, l.opt.Resync, func() {
		for _, k := range l.jobs.Keys() {
			l.queue.Add(k)
		}
	})
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.reconcile)
	return nil
}

func (l *Loop) observe(c projections.Change) {
	if c.Kind == "job" {
		if _, _, ok := l.jobs.Apply(c); ok {
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
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.Kind == "Job" {
			for _, j := range l.jobs.ByIndex("uid", string(ref.UID)) {
				l.queue.Add(informer.KeyOf(j))
			}
		}
	}
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
	job := l.jobs.Get(key)
	if job == nil {
		return nil
	}
	res, err := Reconcile(job, l.pods.ByIndex(informer.ByController, string(job.UID)), Env{Now: l.opt.Now(), NewName: l.newName})
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("invalid").Inc()
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
	l.expect.Expect(key, seq)
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
