package proxy

import (
	"errors"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// collectStale deletes the chains and sets flushLeftovers emptied, in a
// transaction of their own. Items a service claimed again are kept; if the
// batch fails, each item is tried alone and kept only while the kernel
// still holds it busy.
func (p *Proxier) collectStale() {
	if len(p.stale.chains)+len(p.stale.sets) == 0 {
		return
	}
	p.stale = p.unclaimed(p.stale)
	p.queueStale(p.stale)
	if p.flush("delete stale") == nil {
		p.stale = staleItems{}
		return
	}
	var keep staleItems
	for _, r := range p.stale.chains {
		if p.deleteOne(staleItems{chains: []ref{r}}) {
			keep.chains = append(keep.chains, r)
		}
	}
	for _, r := range p.stale.sets {
		if p.deleteOne(staleItems{sets: []ref{r}}) {
			keep.sets = append(keep.sets, r)
		}
	}
	p.stale = keep
}

// deleteOne deletes one stale item and reports whether to keep it.
func (p *Proxier) deleteOne(s staleItems) bool {
	p.queueStale(s)
	err := p.flush("delete stale")
	return err != nil && !errors.Is(err, unix.ENOENT)
}

func (p *Proxier) queueStale(s staleItems) {
	for _, r := range s.chains {
		p.conn.DelChain(&nftables.Chain{Name: r.name, Table: p.base.tables[r.table]})
	}
	for _, r := range s.sets {
		p.conn.DelSet(&nftables.Set{Name: r.name, Table: p.base.tables[r.table]})
	}
}

// unclaimed drops the stale items a programmed service uses again.
func (p *Proxier) unclaimed(s staleItems) staleItems {
	var out staleItems
	for _, r := range s.chains {
		if !p.claimed(func(pl *plan) bool { return pl.chains[r] != nil }) {
			out.chains = append(out.chains, r)
		}
	}
	for _, r := range s.sets {
		if !p.claimed(func(pl *plan) bool { _, ok := pl.sets[r]; return ok }) {
			out.sets = append(out.sets, r)
		}
	}
	return out
}

func (p *Proxier) claimed(uses func(*plan) bool) bool {
	for _, pr := range p.programmed {
		if uses(pr.plan) {
			return true
		}
	}
	return false
}
