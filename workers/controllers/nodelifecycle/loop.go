package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/workers/internal/commands"
	"github.com/gantry-sh/gantry/workers/internal/informer"
	"github.com/gantry-sh/gantry/workers/internal/workqueue"
)

// LoopOptions tune the node lifecycle loop.
type LoopOptions struct {
	// Config: zero fields take GracePeriod 40s and, as Gantry's default,
	// DefaultTolerationSeconds 30.
	Config  Config
	Workers int           // default 2
	Resync  time.Duration // default 30s
	Now     func() time.Time
	Metrics *Metrics
}

// Loop is the node lifecycle worker: lease renewals (a watch on the lease
// bucket), node changes and pod bindings wake the node concerned.
type Loop struct {
	conn    *bus.Conn
	client  commands.Commander
	feed    *informer.Feed
	nodes   *informer.Store[corev1.Node, *corev1.Node]
	pods    *informer.Store[corev1.Pod, *corev1.Pod]
	queue   *workqueue.Queue
	expect  *commands.Expectations
	opt     LoopOptions
	started time.Time

	mu    sync.Mutex
	beats map[string]time.Time
}

const byNode = "node"

// NewLoop registers on view and returns the loop; Run drives it.
func NewLoop(view *projections.View, conn *bus.Conn, client commands.Commander, opt LoopOptions) *Loop {
	if opt.Config.GracePeriod <= 0 {
		opt.Config.GracePeriod = DefaultConfig().GracePeriod
	}
	if opt.Config.DefaultTolerationSeconds <= 0 {
		opt.Config.DefaultTolerationSeconds = 30
	}
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
		conn: conn, client: client, opt: opt, feed: informer.NewFeed(view, "node", "pod"),
		nodes: informer.NewStore[corev1.Node](nil),
		pods: informer.NewStore[corev1.Pod](map[string]informer.IndexFunc[corev1.Pod]{byNode: func(p *corev1.Pod) []string {
			if p.Spec.NodeName == "" {
				return nil
			}
			return []string{p.Spec.NodeName}
		}}),
		queue: workqueue.New(), beats: map[string]time.Time{},
	}
	l.expect = commands.NewExpectations(l.feed)
	return l
}

// Run watches leases and reconciles nodes until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	l.started = l.opt.Now()
	kv, err := l.conn.JS.KeyValue(ctx, bus.LeaseBucket)
	if err != nil {
		return fmt.Errorf("nodelifecycle: bucket %s: %w", bus.LeaseBucket, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("nodelifecycle: watch leases: %w", err)
	}
	go l.watchLeases(ctx, w)
	go l.feed.Run(ctx, l.observe)
	if l.feed.WaitSeeded(ctx) != nil { // workers start on the whole seed
		return nil
	}
	go workqueue.Every(ctx, l.opt.Resync, func() {
		for _, k := range l.nodes.Keys() {
			l.queue.Add(k)
		}
	})
	workqueue.Run(ctx, l.queue, l.opt.Workers, l.reconcile)
	return nil
}

func (l *Loop) watchLeases(ctx context.Context, w jetstream.KeyWatcher) {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			node, err := bus.DecodeToken(e.Key())
			if err != nil {
				continue
			}
			at := e.Created()
			var v struct {
				RenewTime time.Time `json:"renewTime"`
			}
			if json.Unmarshal(e.Value(), &v) == nil && !v.RenewTime.IsZero() {
				at = v.RenewTime
			}
			l.mu.Lock()
			l.beats[node] = at
			l.mu.Unlock()
		}
	}
}

func (l *Loop) heartbeat(node string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.beats[node]; ok {
		return t
	}
	return l.started // never seen: the grace period counts from our start
}

func (l *Loop) observe(c projections.Change) {
	if c.Kind == "node" {
		if _, _, ok := l.nodes.Apply(c); ok {
			l.queue.Add(informer.Key("", c.Name))
		}
		return
	}
	old, cur, ok := l.pods.Apply(c)
	if !ok {
		return
	}
	if cur != nil && cur.Spec.NodeName != "" && (old == nil || old.Spec.NodeName == "") {
		l.queue.Add(informer.Key("", cur.Spec.NodeName))
	}
}

func (l *Loop) reconcile(ctx context.Context, key string) error {
	l.expect.Wait(ctx, key, 10*time.Second)
	node := l.nodes.Get(key)
	if node == nil {
		return nil
	}
	pods := l.pods.ByIndex(byNode, node.Name)
	res := Reconcile(node, l.heartbeat(node.Name), pods, Env{Now: l.opt.Now(), Config: l.opt.Config})
	rv := node.ResourceVersion
	if res.Ready != nil {
		st := node.Status.DeepCopy()
		replaced := false
		for i := range st.Conditions {
			if st.Conditions[i].Type == corev1.NodeReady {
				st.Conditions[i], replaced = *res.Ready, true
			}
		}
		if !replaced {
			st.Conditions = append(st.Conditions, *res.Ready)
		}
		raw, _ := json.Marshal(st)
		r, err := l.client.Do(ctx, "node", aggregates.VerbStatus, aggregates.Command{Name: node.Name, ResourceVersion: rv, Status: raw}, bus.CommandMeta{Reason: "node lease expired"})
		if err != nil {
			return fmt.Errorf("nodelifecycle: node %s ready condition: %w", node.Name, err)
		}
		l.opt.Metrics.NotReady.Inc()
		if r.Seq != 0 {
			rv = fmt.Sprint(r.Seq)
		}
		l.expect.Expect(key, r.Seq)
	}
	if res.TaintsChanged {
		taints := res.Taints
		if taints == nil {
			taints = []corev1.Taint{}
		}
		raw, _ := json.Marshal(map[string]any{"spec": map[string]any{"taints": taints}})
		r, err := l.client.Do(ctx, "node", aggregates.VerbPatch, aggregates.Command{Name: node.Name, ResourceVersion: rv, Patch: raw}, bus.CommandMeta{Reason: "node condition taints"})
		if err != nil {
			return fmt.Errorf("nodelifecycle: node %s taints: %w", node.Name, err)
		}
		l.expect.Expect(key, r.Seq)
	}
	b := commands.NewBatch(ctx, l.client, 64)
	for _, p := range res.Evict {
		l.opt.Metrics.Evictions.Inc()
		b.Send("pod", aggregates.VerbDelete, aggregates.Command{Namespace: p.Namespace, Name: p.Name}, "TaintManagerEviction: node "+node.Name, apierrors.IsNotFound)
	}
	seq, err := b.Wait()
	l.expect.Expect(key, seq)
	if res.RequeueAfter > 0 {
		l.queue.AddAfter(key, res.RequeueAfter+10*time.Millisecond)
	}
	return err
}
