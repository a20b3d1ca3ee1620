package endpoints

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// Source is the command source of this controller.
const Source = "gantry/endpoints"

// View is what the controller reads: current objects and their changes.
type View interface {
	Get(kind, namespace, name string) (projections.Entry, bool)
	List(kind, namespace string) []projections.Entry
	Watch(func(projections.Change)) (stop func())
}

// Sender sends commands (bus.Client).
type Sender interface {
	Do(ctx context.Context, kind, verb string, data any, meta bus.CommandMeta) (bus.Reply, error)
}

// Options configure the controller loop.
type Options struct {
	// CaughtUp blocks until the view holds the stream as it was at start.
	CaughtUp func(context.Context) error
	// Resync recomputes every service this often; 5 minutes when zero.
	Resync time.Duration
	Log    *slog.Logger
}

// Controller feeds Compute from a view and sends the difference.
type Controller struct {
	view View
	send Sender
	opt  Options
	q    *queue

	pods      map[string]map[string]*corev1.Pod // ns → name → pod
	selectors map[key]labels.Selector           // service → its selector
	retry     map[key]int
	unwatch   func() // ends the view's calls, when Run returns
}

// New makes the controller and subscribes it to the view's changes until
// Run returns; Run starts from everything the view holds then.
func New(view View, send Sender, opt Options) *Controller {
	if opt.Resync <= 0 {
		opt.Resync = 5 * time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	c := &Controller{view: view, send: send, opt: opt, q: newQueue(),
		pods: map[string]map[string]*corev1.Pod{}, selectors: map[key]labels.Selector{}, retry: map[key]int{}}
	c.unwatch = view.Watch(c.onChange)
	return c
}

func (c *Controller) onChange(ch projections.Change) {
	switch ch.Kind {
	case "service", "pod":
		c.q.add(key{ch.Kind, ch.Namespace, ch.Name})
	case "endpointslice":
		var es struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(ch.Raw, &es)
		if svc := es.Metadata.Labels[discoveryv1.LabelServiceName]; svc != "" {
			c.q.add(key{"service", ch.Namespace, svc})
		}
	}
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.unwatch()
	if c.opt.CaughtUp != nil {
		if err := c.opt.CaughtUp(ctx); err != nil {
			return fmt.Errorf("endpoints: catch up: %w", err)
		}
	}
	c.resyncAll()
	tick := time.NewTicker(c.opt.Resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			c.resyncAll()
		case <-c.q.wake:
			c.process(ctx, c.q.take())
		}
	}
}

// resyncAll re-reads every pod and queues every service.
func (c *Controller) resyncAll() {
	for _, e := range c.view.List("pod", "") {
		c.q.add(key{"pod", e.Namespace, e.Name})
	}
	for _, e := range c.view.List("service", "") {
		c.q.add(key{"service", e.Namespace, e.Name})
	}
	for _, e := range c.view.List("endpointslice", "") {
		c.onChange(projections.Change{Entry: e})
	}
}

// process folds pod changes into the index, then syncs every service
// they (or the changes themselves) touch.
func (c *Controller) process(ctx context.Context, keys []key) {
	services := map[key]bool{}
	for _, k := range keys {
		if k.kind == "service" {
			services[k] = true
			continue
		}
		for _, s := range c.updatePod(k) {
			services[s] = true
		}
	}
	for _, s := range sortedKeys(services) {
		if err := c.sync(ctx, s); err != nil {
			c.requeue(ctx, s, err)
		} else {
			delete(c.retry, s)
		}
	}
}

// requeue tries a failed service again after a backoff (the periodic
// resync heals whatever is left).
func (c *Controller) requeue(ctx context.Context, s key, err error) {
	c.opt.Log.Debug("endpoints: sync failed", "service", s.ns+"/"+s.name, "err", err)
	n := c.retry[s]
	if n >= 8 {
		c.opt.Log.Warn("endpoints: giving up until resync", "service", s.ns+"/"+s.name, "err", err)
		delete(c.retry, s)
		return
	}
	c.retry[s] = n + 1
	delay := time.Duration(50<<n) * time.Millisecond
	time.AfterFunc(delay, func() {
		if ctx.Err() == nil {
			c.q.add(s)
		}
	})
}

// updatePod refreshes one pod in the index and returns the services whose
// selector matched it before or matches it now.
func (c *Controller) updatePod(k key) []key {
	var before, after *corev1.Pod
	if m := c.pods[k.ns]; m != nil {
		before = m[k.name]
	}
	if e, ok := c.view.Get("pod", k.ns, k.name); ok {
		var p corev1.Pod
		if json.Unmarshal(e.Raw, &p) == nil {
			after = &p
		}
	}
	if after == nil {
		delete(c.pods[k.ns], k.name)
	} else {
		if c.pods[k.ns] == nil {
			c.pods[k.ns] = map[string]*corev1.Pod{}
		}
		c.pods[k.ns][k.name] = after
	}
	var out []key
	for s, sel := range c.selectors {
		if s.ns != k.ns {
			continue
		}
		if before != nil && sel.Matches(labels.Set(before.Labels)) || after != nil && sel.Matches(labels.Set(after.Labels)) {
			out = append(out, s)
		}
	}
	return out
}

// sync makes the managed slices of one service what Compute says.
func (c *Controller) sync(ctx context.Context, s key) error {
	svc := c.service(s)
	var pods []*corev1.Pod
	for _, p := range c.pods[s.ns] {
		pods = append(pods, p)
	}
	want := Compute(svc, pods)
	have := c.managedSlices(s.ns, s.name)
	for _, es := range want {
		if old, ok := have[es.Name]; ok && sameSlice(old, es) {
			delete(have, es.Name)
			continue
		}
		delete(have, es.Name)
		raw, _ := json.Marshal(es)
		if _, err := c.send.Do(ctx, "endpointslice", aggregates.VerbApply,
			aggregates.Command{Namespace: es.Namespace, Name: es.Name, Object: raw}, bus.CommandMeta{Reason: "endpoints of service " + s.name}); err != nil {
			return fmt.Errorf("endpoints: apply %s/%s: %w", es.Namespace, es.Name, err)
		}
	}
	for name := range have {
		_, err := c.send.Do(ctx, "endpointslice", aggregates.VerbDelete,
			aggregates.Command{Namespace: s.ns, Name: name}, bus.CommandMeta{Reason: "no longer an endpoint slice of service " + s.name})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("endpoints: delete %s/%s: %w", s.ns, name, err)
		}
	}
	return nil
}

// service reads a service and records its selector (nil when it is gone
// or selects nothing).
func (c *Controller) service(s key) *corev1.Service {
	e, ok := c.view.Get("service", s.ns, s.name)
	var svc corev1.Service
	if !ok || json.Unmarshal(e.Raw, &svc) != nil {
		delete(c.selectors, s)
		return nil
	}
	if len(svc.Spec.Selector) == 0 {
		delete(c.selectors, s)
	} else {
		c.selectors[s] = labels.SelectorFromSet(svc.Spec.Selector)
	}
	return &svc
}

// managedSlices are the slices this controller owns for service ns/name.
func (c *Controller) managedSlices(ns, name string) map[string]*discoveryv1.EndpointSlice {
	out := map[string]*discoveryv1.EndpointSlice{}
	for _, e := range c.view.List("endpointslice", ns) {
		var es discoveryv1.EndpointSlice
		if json.Unmarshal(e.Raw, &es) != nil {
			continue
		}
		if es.Labels[discoveryv1.LabelServiceName] == name && es.Labels[discoveryv1.LabelManagedBy] == ManagedBy {
			out[es.Name] = &es
		}
	}
	return out
}

// sameSlice compares what Compute decides: labels, owner, address type,
// endpoints and ports.
func sameSlice(a, b *discoveryv1.EndpointSlice) bool {
	pick := func(es *discoveryv1.EndpointSlice) []byte {
		raw, _ := json.Marshal([]any{es.Labels, es.OwnerReferences, es.AddressType, es.Endpoints, es.Ports})
		return raw
	}
	return bytes.Equal(pick(a), pick(b))
}

func sortedKeys(m map[key]bool) []key {
	out := make([]key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ns+"/"+out[i].name < out[j].ns+"/"+out[j].name })
	return out
}
