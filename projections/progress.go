package projections

import (
	"context"
	"sync"
)

// Progress is a stream sequence that only grows — how far a view or a
// consumer of it has got — and lets callers wait until it reaches one.
// The zero value is ready to use.
type Progress struct {
	mu      sync.Mutex
	seq     uint64
	waiters []progressWaiter
}

type progressWaiter struct {
	seq uint64
	ch  chan struct{}
}

// Advance moves the sequence to seq (never back) and wakes who waited for it.
func (p *Progress) Advance(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq <= p.seq {
		return
	}
	p.seq = seq
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		if w.seq <= seq {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	p.waiters = kept
}

// Seq is the sequence reached.
func (p *Progress) Seq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// WaitFor blocks until the sequence reaches seq, or ctx ends.
func (p *Progress) WaitFor(ctx context.Context, seq uint64) error {
	p.mu.Lock()
	if p.seq >= seq {
		p.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	p.waiters = append(p.waiters, progressWaiter{seq: seq, ch: ch})
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
