package runtime

import (
	"context"
	"strconv"
	"sync"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/typeurl/v2"
)

// exitWatch tells whoever waits on a container when its task exits, from
// one subscription to containerd's /tasks/exit events for the runtime's
// namespace. A Wait stream per running container (what client.Task.Wait
// opens) costs a gRPC stream and a goroutine or two each, and the caller
// another goroutine blocked on it: a node with a hundred pods kept all of
// that for nothing but this. Waiters here are callbacks, so a waiting
// container costs a map entry.
//
// The subscription starts with the first waiter and ends when containerd
// closes it (containerd restarted, the client closed): then every waiter
// is called, as a broken Wait stream would end a Wait, and reads the
// task's state again; the next waiter subscribes anew.
type exitWatch struct {
	mu      sync.Mutex
	live    bool                          // a subscription is open
	waiters map[string]map[*waiter]func() // container id → its waiters
}

// waiter is a registration's identity: its address (not zero-sized, so
// that every new one has an address of its own).
type waiter struct{ _ byte }

// exitRecheck: a waiter that opened the subscription looks at its task
// once more after this long, for an exit in the moment before containerd
// had registered the subscription.
const exitRecheck = time.Second

// OnExit arranges for exited to be called once, on another goroutine,
// when the latest attempt of a container is no longer running: at once
// if it is not running now, else when its process exits, or when the
// runtime can no longer watch it (exited then reads its status again).
// cancel unregisters; after it returns, exited is not called.
func (r *Containerd) OnExit(ctx context.Context, uid, name string, exited func()) (cancel func(), err error) {
	ctx = r.withNS(ctx)
	c, err := r.container(ctx, uid, name)
	if err != nil {
		return nil, err
	}
	id, key := c.ID(), new(waiter)
	fresh := r.exits.add(id, key, exited, r.watchExits)
	cancel = func() { r.exits.take(id, key) }
	if !r.taskRunning(ctx, id) {
		if fn := r.exits.take(id, key); fn != nil {
			go fn()
		}
		return cancel, nil
	}
	if fresh {
		time.AfterFunc(exitRecheck, func() {
			if !r.taskRunning(r.withNS(context.Background()), id) {
				if fn := r.exits.take(id, key); fn != nil {
					fn()
				}
			}
		})
	}
	return cancel, nil
}

// add registers a waiter and starts the subscription if none is open,
// reporting whether it did.
func (w *exitWatch) add(id string, key *waiter, fn func(), subscribe func()) (fresh bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters == nil {
		w.waiters = map[string]map[*waiter]func(){}
	}
	if w.waiters[id] == nil {
		w.waiters[id] = map[*waiter]func(){}
	}
	w.waiters[id][key] = fn
	if !w.live {
		w.live, fresh = true, true
		go subscribe()
	}
	return fresh
}

// take unregisters one waiter and returns its callback, or nil when it
// was taken already: whoever takes it calls it, so it runs once.
func (w *exitWatch) take(id string, key *waiter) func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	fn := w.waiters[id][key]
	delete(w.waiters[id], key)
	if len(w.waiters[id]) == 0 {
		delete(w.waiters, id)
	}
	return fn
}

// takeAll unregisters the waiters of one container (every container when
// id is ""), ending the subscription with them when end is set.
func (w *exitWatch) takeAll(id string, end bool) []func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	var fns []func()
	for cid, ws := range w.waiters {
		if id != "" && cid != id {
			continue
		}
		for _, fn := range ws {
			fns = append(fns, fn)
		}
		delete(w.waiters, cid)
	}
	if end {
		w.live = false
	}
	return fns
}

// watchExits runs one subscription until containerd ends it.
func (r *Containerd) watchExits() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errs := r.client.Subscribe(ctx, `topic=="/tasks/exit",namespace==`+strconv.Quote(r.ns))
	for {
		select {
		case env := <-events:
			if env == nil || env.Event == nil {
				continue
			}
			v, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				continue
			}
			e, ok := v.(*apievents.TaskExit)
			if !ok || e.ID != e.ContainerID { // an exec'd process, not the container's own
				continue
			}
			for _, fn := range r.exits.takeAll(e.ContainerID, false) {
				fn()
			}
		case <-errs:
			for _, fn := range r.exits.takeAll("", true) {
				fn()
			}
			return
		}
	}
}

// taskRunning reports whether the container has a task that has not
// stopped, in one round trip; an error reading it counts as not running
// (the caller reads the status, which reports the error).
func (r *Containerd) taskRunning(ctx context.Context, id string) bool {
	resp, err := r.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: id})
	return err == nil && resp.GetProcess().GetStatus() != tasktypes.Status_STOPPED
}
