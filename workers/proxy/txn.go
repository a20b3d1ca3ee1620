package proxy

import (
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// txn collects the kernel changes that turn old plans into new ones and
// queues them in an order the kernel accepts: stale elements out, new sets
// and chains in, elements in, dead chains flushed then deleted, dead sets
// deleted. One txn is one Flush: one atomic transaction.
type txn struct {
	base       *base
	elemDel    map[ref][]nftables.SetElement // by map
	elemAdd    map[ref][]nftables.SetElement
	setAdd     map[ref]time.Duration
	setDel     []ref
	chainWrite map[ref]*chainPlan
	chainDel   []ref
	// deferDeletes only flushes dead chains and keeps dead sets: for
	// chains another transaction stopped referencing, which the kernel
	// releases asynchronously (deleting them now fails with EBUSY).
	deferDeletes bool
}

func newTxn(b *base) *txn {
	return &txn{base: b, elemDel: map[ref][]nftables.SetElement{}, elemAdd: map[ref][]nftables.SetElement{},
		setAdd: map[ref]time.Duration{}, chainWrite: map[ref]*chainPlan{}}
}

// diff adds the changes from old to new (either may be empty).
func (t *txn) diff(old, new *plan) {
	for k, target := range old.elems {
		if new.elems[k] != target {
			m := ref{k.table, k.set}
			t.elemDel[m] = append(t.elemDel[m], nftables.SetElement{Key: []byte(k.key)})
		}
	}
	for k, target := range new.elems {
		if old.elems[k] != target {
			m := ref{k.table, k.set}
			t.elemAdd[m] = append(t.elemAdd[m], nftables.SetElement{Key: []byte(k.key),
				VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: target}})
		}
	}
	for r, c := range new.chains {
		if oc, ok := old.chains[r]; !ok || oc.sum != c.sum {
			t.chainWrite[r] = c
		}
	}
	for r := range old.chains {
		if _, ok := new.chains[r]; !ok {
			t.chainDel = append(t.chainDel, r)
		}
	}
	t.diffSets(old, new)
}

func (t *txn) diffSets(old, new *plan) {
	for r, to := range new.sets {
		if _, ok := old.sets[r]; !ok {
			t.setAdd[r] = to
		}
	}
	for r := range old.sets {
		if _, ok := new.sets[r]; !ok {
			t.setDel = append(t.setDel, r)
		}
	}
}

func (t *txn) empty() bool {
	return len(t.elemDel)+len(t.elemAdd)+len(t.setAdd)+len(t.setDel)+len(t.chainWrite)+len(t.chainDel) == 0
}

// queue puts the changes on c; the caller Flushes.
func (t *txn) queue(c *nftables.Conn) error {
	if err := t.queueElems(t.elemDel, c.SetDeleteElements); err != nil {
		return err
	}
	for _, r := range sortedRefs(t.setAdd) {
		if err := c.AddSet(t.affinitySet(r, t.setAdd[r]), nil); err != nil {
			return err
		}
	}
	writes := sortedRefs(t.chainWrite)
	for _, r := range writes {
		c.AddChain(t.chain(r))
	}
	for _, r := range writes {
		if err := t.writeChain(c, r, t.chainWrite[r]); err != nil {
			return err
		}
	}
	if err := t.queueElems(t.elemAdd, c.SetAddElements); err != nil {
		return err
	}
	t.queueDeletes(c)
	return nil
}

func (t *txn) queueElems(m map[ref][]nftables.SetElement, op func(*nftables.Set, []nftables.SetElement) error) error {
	for _, r := range sortedRefs(m) {
		if err := op(t.base.vmap(r.table, r.name), m[r]); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) queueDeletes(c *nftables.Conn) {
	for _, r := range t.chainDel {
		c.FlushChain(t.chain(r))
	}
	if t.deferDeletes {
		return
	}
	for _, r := range t.chainDel {
		c.DelChain(t.chain(r))
	}
	for _, r := range t.setDel {
		c.DelSet(&nftables.Set{Table: t.base.tables[r.table], Name: r.name})
	}
}

func (t *txn) chain(r ref) *nftables.Chain {
	return &nftables.Chain{Name: r.name, Table: t.base.tables[r.table]}
}

func (t *txn) affinitySet(r ref, timeout time.Duration) *nftables.Set {
	return &nftables.Set{Table: t.base.tables[r.table], Name: r.name, KeyType: nftables.TypeIPAddr,
		Dynamic: true, HasTimeout: true, Timeout: timeout}
}

// writeChain flushes the chain and adds its rules, ending with the numgen
// vmap over an anonymous map created in this transaction.
func (t *txn) writeChain(c *nftables.Conn, r ref, cp *chainPlan) error {
	ch := t.chain(r)
	c.FlushChain(ch)
	for _, rule := range cp.rules {
		c.AddRule(&nftables.Rule{Table: ch.Table, Chain: ch, Exprs: rule})
	}
	if len(cp.numgen) == 0 {
		return nil
	}
	anon := &nftables.Set{Table: ch.Table, Anonymous: true, Constant: true, IsMap: true,
		KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian}
	elems := make([]nftables.SetElement, len(cp.numgen))
	for i, target := range cp.numgen {
		elems[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)),
			VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: target}}
	}
	if err := c.AddSet(anon, elems); err != nil {
		return err
	}
	c.AddRule(&nftables.Rule{Table: ch.Table, Chain: ch, Exprs: []expr.Any{
		&expr.Numgen{Register: reg1, Modulus: uint32(len(cp.numgen)), Type: unix.NFT_NG_RANDOM},
		vmapLookup(anon),
	}})
	return nil
}
