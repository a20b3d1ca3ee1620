package proxy

import (
	"fmt"

	"github.com/google/nftables"
)

// restore is the first Sync: it reads what the tables hold (from an
// earlier run, or nothing), rewrites the fixed part and every desired
// service port idempotently, then removes whatever nobody claimed.
func (p *Proxier) restore(desired map[string]*programmed) error {
	kernel, extra, err := p.readKernel()
	if err != nil {
		return err
	}
	if err := p.base.program(p.conn, p.cfg.NodeIPs); err != nil {
		return fmt.Errorf("%w: build: %w", ErrNFTables, err)
	}
	if err := p.flush("program tables"); err != nil {
		return err
	}
	keys := sortedKeys(desired)
	for len(keys) > 0 {
		n := min(len(keys), p.cfg.ServicesPerTransaction)
		if err := p.restoreBatch(kernel, desired, keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	if err := p.flushLeftovers(kernel, extra); err != nil {
		return err
	}
	p.programmed = desired
	return nil
}

// restoreBatch programs some desired ports against what the kernel holds,
// claiming (removing from kernel) the items they own.
func (p *Proxier) restoreBatch(kernel *plan, desired map[string]*programmed, keys []string) error {
	want, have := newPlan(), newPlan()
	for _, k := range keys {
		want.merge(desired[k].plan)
	}
	for r := range want.chains {
		if _, ok := kernel.chains[r]; ok {
			have.chains[r] = &chainPlan{sum: "unknown"}
			delete(kernel.chains, r)
		}
	}
	for r := range want.sets {
		if to, ok := kernel.sets[r]; ok {
			have.sets[r] = to
			delete(kernel.sets, r)
		}
	}
	for k := range want.elems {
		if target, ok := kernel.elems[k]; ok {
			have.elems[k] = target
			delete(kernel.elems, k)
		}
	}
	t := newTxn(p.base)
	t.diff(have, want)
	return p.commit(t, "restore")
}

func (p *Proxier) commit(t *txn, what string) error {
	if t.empty() {
		return nil
	}
	if err := t.queue(p.conn); err != nil {
		return fmt.Errorf("%w: build: %w", ErrNFTables, err)
	}
	return p.flush(what)
}

// flushLeftovers deletes the tables of an earlier, larger Shards setting,
// removes the elements nobody claimed and empties the chains nobody
// claimed; those chains and sets are deleted later by collectStale, once
// the kernel has released them.
func (p *Proxier) flushLeftovers(kernel *plan, extra []*nftables.Table) error {
	for _, t := range extra {
		p.conn.DelTable(t)
	}
	t := newTxn(p.base)
	t.deferDeletes = true
	t.diff(kernel, newPlan())
	if err := p.commit(t, "restore leftovers"); err != nil {
		return err
	}
	if err := p.flush("delete old shards"); err != nil {
		return err
	}
	p.stale.chains = append(p.stale.chains, t.chainDel...)
	p.stale.sets = append(p.stale.sets, t.setDel...)
	return nil
}
