package scheduler

import (
	"context"
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/informer"
)

// Commander sends commands; *bus.Client satisfies it.
type Commander interface {
	Do(ctx context.Context, kind, verb string, data any, meta bus.CommandMeta) (bus.Reply, error)
}

// LoopOptions tune the scheduling loop.
type LoopOptions struct {
	Config Config
	// Parallel bounds the binds in flight; default 256.
	Parallel int
	// Resync retries unschedulable pods at least this often; default 30s.
	Resync  time.Duration
	Metrics *Metrics
}

// Loop is the scheduler worker: it keeps a Cache current from the view's
// node and pod changes, places pending pods in batches and sends their
// binds concurrently (the hot path pipelines: a batch is decided while the
// binds of the previous ones are in flight).
type Loop struct {
	client Commander
	feed   *informer.Feed
	opt    LoopOptions
	cache  *Cache

	active        []string               // pending pods to try, in order
	pending       map[string]*corev1.Pod // every pod waiting for a node
	queued        map[string]bool        // in active
	unschedulable map[string]bool
	awaitingPods  map[string]bool   // unschedulable with required pod affinity
	assumed       map[string]string // pod → node while its bind is in flight or unobserved
	orphans       map[string]map[string]*corev1.Pod
	inflight      int
	results       chan bindResult
}

type bindResult struct {
	pod  *corev1.Pod
	node string
	err  error
}

// NewLoop registers on view (before the projector starts, or seeded from
// what it holds) and returns the loop; Run drives it.
func NewLoop(view *projections.View, client Commander, opt LoopOptions) *Loop {
	if opt.Parallel <= 0 {
		opt.Parallel = 256
	}
	if opt.Resync <= 0 {
		opt.Resync = 30 * time.Second
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	return &Loop{
		client: client, opt: opt, feed: informer.NewFeed(view, "node", "pod", "namespace"),
		cache: NewCache(opt.Config), pending: map[string]*corev1.Pod{}, queued: map[string]bool{},
		unschedulable: map[string]bool{}, awaitingPods: map[string]bool{}, assumed: map[string]string{}, orphans: map[string]map[string]*corev1.Pod{},
		results: make(chan bindResult, opt.Parallel),
	}
}

// Run schedules until ctx ends. Bind replies still in flight are waited for.
func (l *Loop) Run(ctx context.Context) error {
	tick := time.NewTicker(l.opt.Resync)
	defer tick.Stop()
	for {
		for _, c := range l.feed.Take() {
			l.observe(c)
		}
		l.drainResults()
		l.opt.Metrics.observeQueues(len(l.pending), l.cache)
		if len(l.active) > 0 && l.inflight < l.opt.Parallel && ctx.Err() == nil {
			l.scheduleBatch(ctx, l.opt.Parallel-l.inflight)
			continue
		}
		select {
		case <-ctx.Done():
			for l.inflight > 0 {
				l.done(<-l.results)
			}
			l.feed.Close()
			return nil
		case <-l.feed.Ready():
		case r := <-l.results:
			l.done(r)
		case <-tick.C:
			l.retryUnschedulable()
		}
	}
}

func (l *Loop) drainResults() {
	for {
		select {
		case r := <-l.results:
			l.done(r)
		default:
			return
		}
	}
}

// observe folds one node, namespace or pod change into the cache and the
// queues.
func (l *Loop) observe(c projections.Change) {
	switch c.Kind {
	case "node":
		l.observeNode(c)
		return
	case "namespace":
		l.observeNamespace(c)
		return
	}
	key := c.Namespace + "/" + c.Name
	if c.Deleted {
		l.forget(key)
		l.cache.RemovePod(stubPod(c.Namespace, c.Name))
		l.retryUnschedulable() // resources were freed
		return
	}
	pod := &corev1.Pod{}
	if aggregates.Unmarshal(c.Raw, pod) != nil {
		return
	}
	pod.ResourceVersion = seqString(c.Seq)
	if pod.Spec.NodeName != "" {
		l.forget(key)
		placed := !l.cache.holds(key) // by someone else: ours were assumed
		if err := l.cache.AddPod(pod); err != nil {
			l.orphan(pod)
		}
		switch {
		case !counted(pod) || pod.DeletionTimestamp != nil:
			l.retryUnschedulable()
		case placed:
			l.retryAwaitingPods()
		}
		return
	}
	if pod.DeletionTimestamp != nil || !ours(pod) || !counted(pod) {
		l.forget(key)
		return
	}
	l.pending[key] = pod
	if _, ok := l.assumed[key]; ok || l.unschedulable[key] || l.queued[key] {
		return
	}
	l.enqueue(key)
}

func (l *Loop) observeNode(c projections.Change) {
	if c.Deleted {
		l.cache.RemoveNode(c.Name)
		return
	}
	node := &corev1.Node{}
	if aggregates.Unmarshal(c.Raw, node) != nil {
		return
	}
	l.cache.SetNode(node)
	for _, p := range l.orphans[node.Name] {
		_ = l.cache.AddPod(p)
	}
	delete(l.orphans, node.Name)
	l.retryUnschedulable()
}

// observeNamespace keeps the namespace labels that pod affinity terms'
// namespaceSelector match; new labels may let waiting pods fit.
func (l *Loop) observeNamespace(c projections.Change) {
	if c.Deleted {
		l.cache.RemoveNamespace(c.Name)
		return
	}
	ns := &corev1.Namespace{}
	if aggregates.Unmarshal(c.Raw, ns) != nil {
		return
	}
	if l.cache.SetNamespace(ns) {
		l.retryUnschedulable()
	}
}

func (l *Loop) orphan(pod *corev1.Pod) {
	m := l.orphans[pod.Spec.NodeName]
	if m == nil {
		m = map[string]*corev1.Pod{}
		l.orphans[pod.Spec.NodeName] = m
	}
	m[podKey(pod)] = pod
}

func (l *Loop) forget(key string) {
	delete(l.pending, key)
	delete(l.unschedulable, key)
	delete(l.awaitingPods, key)
	delete(l.assumed, key)
}

func (l *Loop) enqueue(key string) {
	if !l.queued[key] {
		l.queued[key] = true
		l.active = append(l.active, key)
	}
}

// retryUnschedulable moves every unschedulable pod back to the active
// queue: the cluster changed, so it may fit now.
func (l *Loop) retryUnschedulable() {
	for key := range l.unschedulable {
		delete(l.unschedulable, key)
		l.enqueue(key)
	}
}

// retryAwaitingPods moves the unschedulable pods with required pod affinity
// back to the active queue: a pod was placed, and may be the one they need.
func (l *Loop) retryAwaitingPods() {
	for key := range l.awaitingPods {
		delete(l.awaitingPods, key)
		if l.unschedulable[key] {
			delete(l.unschedulable, key)
			l.enqueue(key)
		}
	}
}

// scheduleBatch decides up to n pods and sends their binds.
func (l *Loop) scheduleBatch(ctx context.Context, n int) {
	var batch []*corev1.Pod
	for len(l.active) > 0 && len(batch) < n {
		key := l.active[0]
		l.active = l.active[1:]
		delete(l.queued, key)
		if pod := l.pending[key]; pod != nil {
			if _, ok := l.assumed[key]; !ok {
				batch = append(batch, pod)
			}
		}
	}
	if len(l.active) == 0 {
		l.active = nil // let the backing array go
	}
	start := time.Now()
	plan := l.cache.ComputeBatch(batch)
	l.opt.Metrics.observeBatch(len(plan.Bindings), len(plan.Failures), time.Since(start))
	for _, b := range plan.Bindings {
		pod := l.pending[b.Pod]
		l.assumed[b.Pod] = b.Node
		l.inflight++
		go l.bind(ctx, pod, b.Node)
	}
	for _, f := range plan.Failures {
		pod := l.pending[f.Pod]
		l.unschedulable[f.Pod] = true
		if pod != nil && requiresPodAffinity(pod) {
			l.awaitingPods[f.Pod] = true
		}
		if pod != nil && scheduledMessage(pod) != f.Reason {
			go l.reportUnschedulable(ctx, pod, f.Reason)
		}
	}
	if len(plan.Bindings) > 0 {
		l.retryAwaitingPods() // including this batch's: they may come before the pod they need
	}
}

func requiresPodAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	return a != nil && a.PodAffinity != nil && len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
}

func (l *Loop) bind(ctx context.Context, pod *corev1.Pod, node string) {
	_, err := l.client.Do(ctx, "pod", aggregates.VerbBind, aggregates.Command{Namespace: pod.Namespace, Name: pod.Name, NodeName: node},
		bus.CommandMeta{Reason: "scheduled to " + node})
	l.results <- bindResult{pod: pod, node: node, err: err}
}

// done handles one bind reply. On success the assumed placement stays
// until the bound event replaces it. A conflict means the pod was bound
// (or is being deleted) by someone else: the event will say where.
func (l *Loop) done(r bindResult) {
	l.inflight--
	key := podKey(r.pod)
	if r.err == nil {
		l.opt.Metrics.Attempts.WithLabelValues("scheduled").Inc()
		return
	}
	if l.assumed[key] == r.node {
		delete(l.assumed, key)
		l.cache.RemovePod(r.pod)
	}
	switch {
	case apierrors.IsConflict(r.err), apierrors.IsNotFound(r.err):
		l.opt.Metrics.Attempts.WithLabelValues("conflict").Inc()
	default:
		l.opt.Metrics.Attempts.WithLabelValues("error").Inc()
		if _, ok := l.pending[key]; ok {
			l.unschedulable[key] = true // retried on the next change or resync
		}
	}
}

// reportUnschedulable sets PodScheduled=False with the FitError text.
func (l *Loop) reportUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) {
	l.opt.Metrics.Attempts.WithLabelValues("unschedulable").Inc()
	st := pod.Status.DeepCopy()
	st.Phase = corev1.PodPending
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: msg, LastTransitionTime: metav1.NewTime(time.Now().UTC().Truncate(time.Second))}
	replaced := false
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.PodScheduled {
			st.Conditions[i], replaced = cond, true
		}
	}
	if !replaced {
		st.Conditions = append(st.Conditions, cond)
	}
	raw, _ := json.Marshal(st)
	_, _ = l.client.Do(ctx, "pod", aggregates.VerbStatus, aggregates.Command{Namespace: pod.Namespace, Name: pod.Name, ResourceVersion: pod.ResourceVersion, Status: raw},
		bus.CommandMeta{Reason: "unschedulable"})
}

func scheduledMessage(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Message
		}
	}
	return ""
}

// ours: pods for this scheduler (gantry, the default, or unnamed).
func ours(pod *corev1.Pod) bool {
	switch pod.Spec.SchedulerName {
	case "", corev1.DefaultSchedulerName, "gantry":
		return true
	}
	return false
}

func stubPod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}

func seqString(seq uint64) string {
	b, _ := json.Marshal(seq)
	return string(b)
}
