package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gantry-sh/gantry/projections"
)

// View is what the loop reads: current objects and their changes.
type View interface {
	Get(kind, namespace, name string) (projections.Entry, bool)
	List(kind, namespace string) []projections.Entry
	OnChange(func(projections.Change))
}

// LoopOptions configure a Loop.
type LoopOptions struct {
	// CaughtUp blocks until the view holds the stream as it was at start.
	CaughtUp func(context.Context) error
	// Resync runs a full Sync this often; 5 minutes when zero.
	Resync time.Duration
	// CleanupOnExit removes the tables when Run returns (a graceful
	// shutdown); a crash leaves them, and the next start restores them.
	CleanupOnExit bool
	// Synced, if set, is called after the first Sync succeeded.
	Synced func()
	Log    *slog.Logger
}

// Loop drives a Proxier from a view: one full Sync at start (which
// restores what an earlier run left), then Update or Delete per changed
// service, and a periodic full Sync.
type Loop struct {
	view View
	p    *Proxier
	opt  LoopOptions

	mu    sync.Mutex
	dirty map[[2]string]bool // ns/name of services
	wake  chan struct{}
}

// NewLoop subscribes to view; call it before view starts folding.
func NewLoop(view View, p *Proxier, opt LoopOptions) *Loop {
	if opt.Resync <= 0 {
		opt.Resync = 5 * time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	l := &Loop{view: view, p: p, opt: opt, dirty: map[[2]string]bool{}, wake: make(chan struct{}, 1)}
	view.OnChange(l.onChange)
	return l
}

func (l *Loop) onChange(c projections.Change) {
	switch c.Kind {
	case "service":
		l.mark(c.Namespace, c.Name)
	case "endpointslice":
		var es struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(c.Raw, &es)
		if svc := es.Metadata.Labels[discoveryv1.LabelServiceName]; svc != "" {
			l.mark(c.Namespace, svc)
		} else if c.Deleted {
			l.markAll() // a deleted slice no longer says whose it was
		}
	}
}

func (l *Loop) mark(ns, name string) {
	l.mu.Lock()
	l.dirty[[2]string{ns, name}] = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *Loop) markAll() {
	for _, e := range l.view.List("service", "") {
		l.mark(e.Namespace, e.Name)
	}
}

// Run programs the node until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	defer l.exit()
	if l.opt.CaughtUp != nil {
		if err := l.opt.CaughtUp(ctx); err != nil {
			return fmt.Errorf("proxy: catch up: %w", err)
		}
	}
	l.take()
	if err := l.p.Sync(l.all()); err != nil {
		return err
	}
	if l.opt.Synced != nil {
		l.opt.Synced()
	}
	tick := time.NewTicker(l.opt.Resync)
	defer tick.Stop()
	full := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			full = true
		case <-l.wake:
		}
		if full {
			l.take()
			if err := l.p.Sync(l.all()); err != nil {
				l.opt.Log.Warn("proxy: full sync failed", "err", err)
				continue
			}
			full = false
			continue
		}
		for _, k := range l.take() {
			if err := l.p.Update(k[0], k[1], l.ports(k[0], k[1])); err != nil {
				l.opt.Log.Warn("proxy: update failed; full sync next", "service", k[0]+"/"+k[1], "err", err)
				full = true
			}
		}
		if full {
			l.mark("", "") // come round again for the full sync
		}
	}
}

func (l *Loop) exit() {
	if l.opt.CleanupOnExit {
		if err := l.p.Cleanup(); err != nil {
			l.opt.Log.Warn("proxy: cleanup", "err", err)
		}
	}
	_ = l.p.Close()
}

func (l *Loop) take() [][2]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][2]string, 0, len(l.dirty))
	for k := range l.dirty {
		if k[1] != "" {
			out = append(out, k)
		}
	}
	l.dirty = map[[2]string]bool{}
	return out
}

// all is every service's ports from the view.
func (l *Loop) all() []ServicePort {
	slices := map[[2]string][]*discoveryv1.EndpointSlice{}
	for _, e := range l.view.List("endpointslice", "") {
		if es := decodeSlice(e.Raw); es != nil {
			k := [2]string{es.Namespace, es.Labels[discoveryv1.LabelServiceName]}
			slices[k] = append(slices[k], es)
		}
	}
	var out []ServicePort
	for _, e := range l.view.List("service", "") {
		if svc := decodeService(e.Raw); svc != nil {
			out = append(out, FromObjects(svc, slices[[2]string{e.Namespace, e.Name}])...)
		}
	}
	return out
}

// ports is one service's ports (none when it is gone).
func (l *Loop) ports(ns, name string) []ServicePort {
	e, ok := l.view.Get("service", ns, name)
	if !ok {
		return nil
	}
	svc := decodeService(e.Raw)
	if svc == nil {
		return nil
	}
	var slices []*discoveryv1.EndpointSlice
	for _, se := range l.view.List("endpointslice", ns) {
		if es := decodeSlice(se.Raw); es != nil && es.Labels[discoveryv1.LabelServiceName] == name {
			slices = append(slices, es)
		}
	}
	return FromObjects(svc, slices)
}

func decodeService(raw []byte) *corev1.Service {
	var svc corev1.Service
	if json.Unmarshal(raw, &svc) != nil {
		return nil
	}
	return &svc
}

func decodeSlice(raw []byte) *discoveryv1.EndpointSlice {
	var es discoveryv1.EndpointSlice
	if json.Unmarshal(raw, &es) != nil {
		return nil
	}
	return &es
}
