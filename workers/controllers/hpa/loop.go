package hpa

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
)

// Kind is the token the HorizontalPodAutoscaler kind is registered under.
const Kind = "horizontalpodautoscaler"

// LoopOptions tune the HPA loop.
type LoopOptions struct {
	Workers int           // default 2
	Sync    time.Duration // how often every HPA is evaluated; default 15s
	Now     func() time.Time
	Metrics *Metrics
}

// Loop is the HPA worker: every Sync (and on an HPA change) it reads the
// scale target and its pods from the view and their usage from the
// metrics source, and sends scale commands.
type Loop struct {
	view   *projections.View
	client commands.Commander
	source MetricsSource
	feed   *informer.Feed
	hpas   *informer.Store[autoscalingv2.HorizontalPodAutoscaler, *autoscalingv2.HorizontalPodAutoscaler]
	queue  *workqueue.Queue
	opt    LoopOptions
	mu     sync.Mutex
	state  map[string]State
}

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, client commands.Commander, source MetricsSource, opt LoopOptions) *Loop {
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.Sync <= 0 {
		opt.Sync = 15 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	return &Loop{
		view: view, client: client, source: source, opt: opt, feed: informer.NewFeed(view, Kind),
		hpas:  informer.NewStore[autoscalingv2.HorizontalPodAutoscaler](nil),
		queue: workqueue.New(), state: map[string]State{},
	}
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	go l.feed.Run(ctx, func(c projections.Change) {
		if _, _, ok := l.hpas.Apply(c); ok {
			l.queue.Add(informer.Key(c.Namespace, c.Name))
		}
	})
	if l.feed.WaitSeeded(ctx) != nil { // workers start on the whole seed
		return nil
	}
	go workqueue.Every(ctx, l.opt.Sync, func() {
		for _, k := range l.hpas.Keys() {
			l.queue.Add(k)
		}
	})
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.reconcile)
	return nil
}

// scalable is what the HPA reads of a Deployment, ReplicaSet or StatefulSet.
type scalable struct {
	Spec struct {
		Replicas *int32                `json:"replicas"`
		Selector *metav1.LabelSelector `json:"selector"`
	} `json:"spec"`
}

func (l *Loop) target(hpa *autoscalingv2.HorizontalPodAutoscaler) (string, Target, bool) {
	kind := strings.ToLower(hpa.Spec.ScaleTargetRef.Kind)
	e, ok := l.view.Get(kind, hpa.Namespace, hpa.Spec.ScaleTargetRef.Name)
	if !ok {
		return kind, Target{}, false
	}
	var s scalable
	if json.Unmarshal(e.Raw, &s) != nil {
		return kind, Target{}, false
	}
	sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
	if err != nil || s.Spec.Selector == nil {
		return kind, Target{}, false
	}
	t := Target{Replicas: 1}
	if s.Spec.Replicas != nil {
		t.Replicas = *s.Spec.Replicas
	}
	for _, pe := range l.view.List("pod", hpa.Namespace) {
		p := &corev1.Pod{}
		if json.Unmarshal(pe.Raw, p) == nil && sel.Matches(labels.Set(p.Labels)) {
			t.Pods = append(t.Pods, p)
		}
	}
	return kind, t, true
}

func (l *Loop) reconcile(ctx context.Context, key string) error {
	hpa := l.hpas.Get(key)
	if hpa == nil {
		l.mu.Lock()
		delete(l.state, key)
		l.mu.Unlock()
		return nil
	}
	kind, target, ok := l.target(hpa)
	if !ok {
		l.opt.Metrics.Reconciles.WithLabelValues("no-target").Inc()
		return nil
	}
	l.mu.Lock()
	st := l.state[key]
	l.mu.Unlock()
	res := Reconcile(hpa, target, st, Env{Now: l.opt.Now(), Metrics: l.source.PodMetrics(hpa.Namespace)})
	b := commands.NewBatch(ctx, l.client, 2)
	if res.Scale {
		replicas := res.Replicas
		l.opt.Metrics.Scaled.WithLabelValues(direction(target.Replicas, replicas)).Inc()
		b.Send(kind, aggregates.VerbScale, aggregates.Command{Namespace: hpa.Namespace, Name: hpa.Spec.ScaleTargetRef.Name, Replicas: &replicas},
			"horizontalpodautoscaler "+hpa.Name+": "+res.Reason, nil)
	}
	commands.Status(b, Kind, hpa.Namespace, hpa.Name, hpa.Status, res.Status)
	_, err := b.Wait()
	if err != nil && res.Scale {
		res.State.Events = res.State.Events[:len(res.State.Events)-1] // the scale did not happen
	}
	l.mu.Lock()
	l.state[key] = res.State
	l.mu.Unlock()
	if err != nil {
		l.opt.Metrics.Reconciles.WithLabelValues("error").Inc()
		return err
	}
	l.opt.Metrics.Reconciles.WithLabelValues("ok").Inc()
	return nil
}

func direction(from, to int32) string {
	if to > from {
		return "up"
	}
	return "down"
}
