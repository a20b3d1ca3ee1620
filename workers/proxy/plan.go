package proxy

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// plan is what the kernel must hold for one service port, or for the whole
// program: chains (→ content), affinity sets and map elements.
type plan struct {
	chains map[ref]*chainPlan
	sets   map[ref]time.Duration
	elems  map[elemKey]string // → target chain (same table)
}

// ref names a chain or set in a table.
type ref struct {
	table, name string
}

// chainPlan is one chain's rules; numgen, when set, adds a last rule
// "numgen random mod N vmap { i : goto numgen[i] }". sum describes the
// content so unchanged chains are left alone.
type chainPlan struct {
	rules  [][]expr.Any
	numgen []string
	sum    string
}

// elemKey is a map element: the map and the key bytes.
type elemKey struct {
	table, set, key string
}

func newPlan() *plan {
	return &plan{chains: map[ref]*chainPlan{}, sets: map[ref]time.Duration{}, elems: map[elemKey]string{}}
}

// fingerprint describes the whole plan; equal fingerprints, equal kernel
// state.
func (p *plan) fingerprint() string {
	var lines []string
	for r, c := range p.chains {
		lines = append(lines, fmt.Sprintf("c %s %s %s", r.table, r.name, c.sum))
	}
	for r, to := range p.sets {
		lines = append(lines, fmt.Sprintf("s %s %s %v", r.table, r.name, to))
	}
	for k, target := range p.elems {
		lines = append(lines, fmt.Sprintf("e %s %s %x %s", k.table, k.set, k.key, target))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// merge adds q's items to p.
func (p *plan) merge(q *plan) {
	for k, v := range q.chains {
		p.chains[k] = v
	}
	for k, v := range q.sets {
		p.sets[k] = v
	}
	for k, v := range q.elems {
		p.elems[k] = v
	}
}

func serviceKey(ip netip.Addr, proto Protocol, port uint16) string {
	a := ip.As4()
	return string([]byte{a[0], a[1], a[2], a[3], byte(proto), 0, 0, 0, byte(port >> 8), byte(port), 0, 0})
}

func nodePortKey(proto Protocol, port uint16) string {
	return string([]byte{byte(proto), 0, 0, 0, byte(port >> 8), byte(port), 0, 0})
}

func (p *plan) addElem(s *nftables.Set, key, target string) {
	p.elems[elemKey{s.Table.Name, s.Name, key}] = target
}
