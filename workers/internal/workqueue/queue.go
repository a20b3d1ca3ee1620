// Package workqueue is the de-duplicating work queue the scheduling loops
// share: a key added while it waits is queued once; a key added while it is
// being processed is processed again after Done, never by two workers at
// once (client-go's workqueue semantics, without its dependencies).
package workqueue

import (
	"context"
	"sync"
	"time"
)

// Queue holds keys to reconcile.
type Queue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	queue      []string
	dirty      map[string]bool
	processing map[string]bool
	delayed    map[string]time.Time
	failures   map[string]int
	shutdown   bool
}

// New returns an empty queue.
func New() *Queue {
	q := &Queue{dirty: map[string]bool{}, processing: map[string]bool{}, delayed: map[string]time.Time{}, failures: map[string]int{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key unless it is already waiting. It never blocks.
func (q *Queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown || q.dirty[key] {
		return
	}
	q.dirty[key] = true
	if q.processing[key] {
		return // queued again by Done
	}
	q.queue = append(q.queue, key)
	q.cond.Signal()
}

// AddAfter queues key after d; of several pending delays the earliest wins.
func (q *Queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	at := time.Now().Add(d)
	q.mu.Lock()
	if prev, ok := q.delayed[key]; ok && !prev.After(at) {
		q.mu.Unlock()
		return
	}
	q.delayed[key] = at
	q.mu.Unlock()
	time.AfterFunc(d, func() {
		q.mu.Lock()
		if q.delayed[key].Equal(at) {
			delete(q.delayed, key)
		}
		q.mu.Unlock()
		q.Add(key)
	})
}

// Retry queues key again after a back-off that doubles with each failure
// (10 ms up to 10 s); Forget resets it.
func (q *Queue) Retry(key string) {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	d := 10 * time.Millisecond << min(n, 10)
	q.AddAfter(key, min(d, 10*time.Second))
}

// Forget clears key's failure count.
func (q *Queue) Forget(key string) {
	q.mu.Lock()
	delete(q.failures, key)
	q.mu.Unlock()
}

// Get blocks until a key is ready or the queue is shut down (ok false).
func (q *Queue) Get() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if len(q.queue) == 0 {
		return "", false
	}
	key, q.queue = q.queue[0], q.queue[1:]
	q.processing[key] = true
	delete(q.dirty, key)
	return key, true
}

// Done marks key processed; if it was added meanwhile it is queued again.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] {
		q.queue = append(q.queue, key)
		q.cond.Signal()
	}
}

// Len is the number of keys waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// ShutDown wakes every Get; keys still queued are dropped.
func (q *Queue) ShutDown() {
	q.mu.Lock()
	q.shutdown = true
	q.queue = nil
	q.cond.Broadcast()
	q.mu.Unlock()
}

// Run drains q with workers goroutines calling fn until ctx ends. A key
// whose fn fails is retried with back-off.
func Run(ctx context.Context, q *Queue, workers int, fn func(context.Context, string) error) {
	stop := context.AfterFunc(ctx, q.ShutDown)
	defer stop()
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, ok := q.Get()
				if !ok {
					return
				}
				if err := fn(ctx, key); err != nil && ctx.Err() == nil {
					q.Retry(key)
				} else {
					q.Forget(key)
				}
				q.Done(key)
			}
		}()
	}
	wg.Wait()
}

// Every calls fn every d until ctx ends: the periodic resync.
func Every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
