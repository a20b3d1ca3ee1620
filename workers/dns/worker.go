package dns

import (
	"context"
	"encoding/json"

	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gantry-sh/gantry/projections"
)

// Source is what the worker reads: current objects and their changes.
type Source interface {
	Get(kind, namespace, name string) (projections.Entry, bool)
	List(kind, namespace string) []projections.Entry
	OnChange(func(projections.Change))
}

// WorkerOptions configure the DNS worker.
type WorkerOptions struct {
	// Addrs to serve on, UDP and TCP each ("127.0.0.1:10053").
	Addrs []string
	// CaughtUp blocks until the source holds the stream as it was at start.
	CaughtUp func(context.Context) error
	// Ready, if set, is called once the store is filled and every
	// listener is bound, with the bound addresses.
	Ready func(addrs []string)
}

// Worker keeps a Store in step with services and endpoint slices of a
// Source and serves it. A change only marks its object dirty; one
// goroutine copies the current object into the Store, so queries never
// wait on the bus.
type Worker struct {
	src   Source
	store *Store
	h     *Handler
	opt   WorkerOptions

	mu    sync.Mutex
	dirty map[objKey]bool
	wake  chan struct{}
}

type objKey struct{ kind, ns, name string }

// NewWorker subscribes to src; call it before src starts folding.
func NewWorker(src Source, cfg Config, opt WorkerOptions) (*Worker, error) {
	store := NewStore()
	h, err := NewHandler(store, cfg)
	if err != nil {
		return nil, err
	}
	w := &Worker{src: src, store: store, h: h, opt: opt, dirty: map[objKey]bool{}, wake: make(chan struct{}, 1)}
	src.OnChange(func(c projections.Change) {
		if c.Kind == "service" || c.Kind == "endpointslice" {
			w.mark(objKey{c.Kind, c.Namespace, c.Name})
		}
	})
	return w, nil
}

// Store is the worker's store (for tests and metrics).
func (w *Worker) Store() *Store { return w.store }

func (w *Worker) mark(k objKey) {
	w.mu.Lock()
	w.dirty[k] = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run fills the store, binds the listeners and serves until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	if w.opt.CaughtUp != nil {
		if err := w.opt.CaughtUp(ctx); err != nil {
			return fmt.Errorf("dns: catch up: %w", err)
		}
	}
	for _, kind := range []string{"service", "endpointslice"} {
		for _, e := range w.src.List(kind, "") {
			w.mark(objKey{kind, e.Namespace, e.Name})
		}
	}
	w.drain()
	var servers []*Server
	defer func() {
		for _, s := range servers {
			_ = s.Shutdown()
		}
	}()
	var addrs []string
	for _, a := range w.opt.Addrs {
		s, err := Listen(a, w.h)
		if err != nil {
			return err
		}
		servers, addrs = append(servers, s), append(addrs, s.Addr())
	}
	if w.opt.Ready != nil {
		w.opt.Ready(addrs)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
			w.drain()
		}
	}
}

// drain copies every dirty object's current state into the store.
func (w *Worker) drain() {
	w.mu.Lock()
	keys := w.dirty
	w.dirty = map[objKey]bool{}
	w.mu.Unlock()
	for k := range keys {
		w.copy(k)
	}
}

func (w *Worker) copy(k objKey) {
	e, ok := w.src.Get(k.kind, k.ns, k.name)
	switch k.kind {
	case "service":
		var svc corev1.Service
		if !ok || json.Unmarshal(e.Raw, &svc) != nil {
			w.store.DeleteService(k.ns, k.name)
			return
		}
		w.store.UpsertService(&svc)
	case "endpointslice":
		var es discoveryv1.EndpointSlice
		if !ok || json.Unmarshal(e.Raw, &es) != nil {
			w.store.DeleteSlice(k.ns, k.name)
			return
		}
		w.store.UpsertSlice(&es)
	}
}
