package cronjob

import (
	"sync"
	"time"
)

// Clock is the loop's time: what Reconcile is told is now, and the timers
// that wake a CronJob at its next schedule time. Tests inject a fake one.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// RealClock is the wall clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// timers keeps at most one pending wake-up per key.
type timers struct {
	clock Clock
	mu    sync.Mutex
	stop  map[string]func() bool
}

func (t *timers) set(key string, d time.Duration, f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if stop := t.stop[key]; stop != nil {
		stop()
	}
	t.stop[key] = t.clock.AfterFunc(d, f)
}

func (t *timers) clear(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if stop := t.stop[key]; stop != nil {
		stop()
		delete(t.stop, key)
	}
}
