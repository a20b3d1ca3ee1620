package proxy

import (
	"fmt"
)

// Sync makes the table hold exactly the given service ports. The first
// Sync after New reads back what an earlier run left and reprograms it;
// later ones change only the service ports whose plan changed, at most
// ServicesPerTransaction per transaction, and delete chains a restore left
// empty.
func (p *Proxier) Sync(ports []ServicePort) error {
	desired, err := p.plans(ports)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.programmed == nil {
		return p.restore(desired)
	}
	p.collectStale()
	var changes []change
	for key, d := range desired {
		if old := p.programmed[key]; old == nil || old.fingerprint != d.fingerprint {
			changes = append(changes, change{key: key, new: d, old: p.programmed[key]})
		}
	}
	for key, old := range p.programmed {
		if desired[key] == nil {
			changes = append(changes, change{key: key, old: old})
		}
	}
	return p.applyInBatches(changes)
}

// Update programs one service's ports (replacing what it had) in one
// transaction. Ports of the service no longer listed are removed.
func (p *Proxier) Update(namespace, name string, ports []ServicePort) error {
	for i := range ports {
		if ports[i].Namespace != namespace || ports[i].Name != name {
			return fmt.Errorf("%w %s: updating service %s/%s", ErrInvalid, ports[i].Key(), namespace, name)
		}
	}
	desired, err := p.plans(ports)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.programmed == nil {
		return ErrNotSynced
	}
	var changes []change
	for key, d := range desired {
		if old := p.programmed[key]; old == nil || old.fingerprint != d.fingerprint {
			changes = append(changes, change{key: key, new: d, old: old})
		}
	}
	for key, old := range p.programmed {
		if desired[key] == nil && belongsTo(key, namespace, name) {
			changes = append(changes, change{key: key, old: old})
		}
	}
	return p.apply(changes)
}

// Delete removes every port of one service in one transaction.
func (p *Proxier) Delete(namespace, name string) error {
	return p.Update(namespace, name, nil)
}

// change replaces old with new for one service port; either may be nil.
type change struct {
	key      string
	old, new *programmed
}

// plans builds the plan of each port, reusing the last one when the
// port's input has not changed (so a resync of unchanged services costs a
// comparison each). The caller holds no lock; programmed is read under it.
func (p *Proxier) plans(ports []ServicePort) (map[string]*programmed, error) {
	p.mu.Lock()
	last := p.programmed
	p.mu.Unlock()
	out := make(map[string]*programmed, len(ports))
	for i := range ports {
		sp := &ports[i]
		if err := sp.validate(); err != nil {
			return nil, err
		}
		key := sp.Key()
		if old := last[key]; old != nil && old.input.equal(sp) {
			out[key] = old
			continue
		}
		pl := p.planner.build(sp)
		out[key] = &programmed{plan: pl, fingerprint: pl.fingerprint(), input: sp.clone()}
	}
	return out, nil
}

func (p *Proxier) applyInBatches(changes []change) error {
	for len(changes) > 0 {
		n := min(len(changes), p.cfg.ServicesPerTransaction)
		if err := p.apply(changes[:n]); err != nil {
			return err
		}
		changes = changes[n:]
	}
	return nil
}

// apply writes changes in one transaction and records them.
func (p *Proxier) apply(changes []change) error {
	t := newTxn(p.base)
	for _, c := range changes {
		t.diff(planOf(c.old), planOf(c.new))
	}
	if t.empty() {
		return nil
	}
	if err := t.queue(p.conn); err != nil {
		return fmt.Errorf("%w: build: %w", ErrNFTables, err)
	}
	if err := p.flush("sync"); err != nil {
		return err
	}
	for _, c := range changes {
		if c.new == nil {
			delete(p.programmed, c.key)
		} else {
			p.programmed[c.key] = c.new
		}
	}
	return nil
}

func planOf(pr *programmed) *plan {
	if pr == nil {
		return newPlan()
	}
	return pr.plan
}

func belongsTo(key, namespace, name string) bool {
	prefix := namespace + "/" + name + "/"
	return len(key) > len(prefix) && key[:len(prefix)] == prefix
}
