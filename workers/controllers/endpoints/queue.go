package endpoints

import "sync"

// queue is a set of dirty keys with a wake-up channel: a key added many
// times before it is taken is handled once.
type queue struct {
	mu    sync.Mutex
	dirty map[key]bool
	wake  chan struct{}
}

// key names one object of a kind.
type key struct{ kind, ns, name string }

func newQueue() *queue { return &queue{dirty: map[key]bool{}, wake: make(chan struct{}, 1)} }

func (q *queue) add(k key) {
	q.mu.Lock()
	q.dirty[k] = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns every dirty key and clears the set.
func (q *queue) take() []key {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]key, 0, len(q.dirty))
	for k := range q.dirty {
		out = append(out, k)
	}
	q.dirty = map[key]bool{}
	return out
}
