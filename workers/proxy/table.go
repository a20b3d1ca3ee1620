package proxy

import (
	"fmt"
	"hash/fnv"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Fixed chain and set names.
const (
	chainServices        = "services"
	chainMasquerading    = "masquerading"
	chainMarkForMasq     = "mark-for-masquerade"
	chainEndpointsCheck  = "service-endpoints-check"
	chainNodePortsCheck  = "nodeport-endpoints-check"
	chainReject          = "reject-chain"
	setServiceIPs        = "service-ips"
	setServiceNodePorts  = "service-nodeports"
	setNoEndpointIPs     = "no-endpoint-services"
	setNoEndpointNodePts = "no-endpoint-nodeports"
	setNodeIPs           = "nodeport-ips"
)

var (
	serviceKeyType  = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	nodePortKeyType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
)

// base is the fixed part of the program. The main table holds the reject
// path (filter hooks, no-endpoint maps) and masquerading; each shard table
// holds its own nat hooks, service maps and the chains of the services
// hashed to it. The kernel re-validates every chain reachable from a
// table's base chains on each transaction that adds a jump, so sharding
// makes a change cost O(services/shards) in the kernel instead of
// O(services). A new connection tries the shards in turn; the first that
// DNATs ends NAT evaluation for it.
type base struct {
	main                *nftables.Table
	noEPIPs, noEPNodePt *nftables.Set
	nodeIPs             *nftables.Set
	shards              []*shard
	tables              map[string]*nftables.Table
	serviceCIDR         netip.Prefix
}

// shard is one table of service chains.
type shard struct {
	table                          *nftables.Table
	serviceIPs, nodePorts, nodeIPs *nftables.Set
}

func newBase(name string, shards int, serviceCIDR netip.Prefix) *base {
	b := &base{main: ipTable(name), tables: map[string]*nftables.Table{}, serviceCIDR: serviceCIDR}
	b.tables[name] = b.main
	b.noEPIPs = vmapSet(b.main, setNoEndpointIPs, serviceKeyType)
	b.noEPNodePt = vmapSet(b.main, setNoEndpointNodePts, nodePortKeyType)
	b.nodeIPs = addrSet(b.main)
	for i := range max(shards, 1) {
		t := ipTable(shardTableName(name, i))
		b.tables[t.Name] = t
		b.shards = append(b.shards, &shard{table: t,
			serviceIPs: vmapSet(t, setServiceIPs, serviceKeyType),
			nodePorts:  vmapSet(t, setServiceNodePorts, nodePortKeyType),
			nodeIPs:    addrSet(t)})
	}
	return b
}

func shardTableName(name string, i int) string { return fmt.Sprintf("%s-%02d", name, i) }

func ipTable(name string) *nftables.Table {
	return &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
}

func vmapSet(t *nftables.Table, name string, kt nftables.SetDatatype) *nftables.Set {
	return &nftables.Set{Table: t, Name: name, IsMap: true, KeyType: kt, DataType: nftables.TypeVerdict}
}

func addrSet(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: setNodeIPs, KeyType: nftables.TypeIPAddr}
}

// shardFor picks the shard of a service; all its ports share it.
func (b *base) shardFor(namespace, name string) *shard {
	h := fnv.New32a()
	h.Write([]byte(namespace + "/" + name))
	return b.shards[h.Sum32()%uint32(len(b.shards))]
}

// maps lists every verdict map, main table first.
func (b *base) maps() []*nftables.Set {
	out := []*nftables.Set{b.noEPIPs, b.noEPNodePt}
	for _, s := range b.shards {
		out = append(out, s.serviceIPs, s.nodePorts)
	}
	return out
}

// vmap returns the verdict map name in table.
func (b *base) vmap(table, name string) *nftables.Set {
	for _, s := range b.maps() {
		if s.Table.Name == table && s.Name == name {
			return s
		}
	}
	return vmapSet(b.tables[table], name, serviceKeyType)
}

// program queues the fixed part: idempotent adds, the fixed chains
// flushed and refilled, node addresses replaced.
func (b *base) program(c *nftables.Conn, nodeIPs []netip.Addr) error {
	if err := b.programTable(c, b.main, []*nftables.Set{b.noEPIPs, b.noEPNodePt}, b.nodeIPs, nodeIPs, b.mainChains()); err != nil {
		return err
	}
	for _, s := range b.shards {
		if err := b.programTable(c, s.table, []*nftables.Set{s.serviceIPs, s.nodePorts}, s.nodeIPs, nodeIPs, s.chains()); err != nil {
			return err
		}
	}
	return nil
}

func (b *base) programTable(c *nftables.Conn, t *nftables.Table, maps []*nftables.Set, nodeSet *nftables.Set,
	nodeIPs []netip.Addr, chains []fixedChain) error {
	c.AddTable(t)
	for _, s := range append(maps, nodeSet) {
		if err := c.AddSet(s, nil); err != nil {
			return err
		}
	}
	c.FlushSet(nodeSet)
	if err := c.SetAddElements(nodeSet, addrElems(nodeIPs)); err != nil {
		return err
	}
	for _, ch := range chains {
		writeFixed(c, ch)
	}
	return nil
}

type fixedChain struct {
	chain *nftables.Chain
	rules [][]expr.Any
}

func regular(t *nftables.Table, name string, rules ...[]expr.Any) fixedChain {
	return fixedChain{&nftables.Chain{Name: name, Table: t}, rules}
}

func hooked(t *nftables.Table, name string, typ nftables.ChainType, hook *nftables.ChainHook, prio int32, rules ...[]expr.Any) fixedChain {
	ch := &nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook,
		Priority: nftables.ChainPriorityRef(nftables.ChainPriority(prio))}
	return fixedChain{ch, rules}
}

// mainChains: the reject path and masquerading, called chains first.
func (b *base) mainChains() []fixedChain {
	t := b.main
	newOnly := func(e ...expr.Any) []expr.Any { return append(ctStateNew(), e...) }
	// After DNAT, a new connection still addressed to the service CIDR
	// found no service: reject it rather than let it time out.
	var unknownVIP [][]expr.Any
	if b.serviceCIDR.IsValid() {
		unknownVIP = append(unknownVIP, newOnly(append(daddrIn(b.serviceCIDR), jumpChain(chainReject))...))
	}
	return []fixedChain{
		regular(t, chainReject, rejectRules()...),
		regular(t, chainMasquerading, masqIfMarked()...),
		regular(t, chainEndpointsCheck, append(serviceTriple(), vmapLookup(b.noEPIPs))),
		regular(t, chainNodePortsCheck, nodePortMatch(b.nodeIPs, b.noEPNodePt)),
		hooked(t, "nat-postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, 100, []expr.Any{jumpChain(chainMasquerading)}),
		hooked(t, "filter-input", nftables.ChainTypeFilter, nftables.ChainHookInput, -110,
			newOnly(jumpChain(chainEndpointsCheck)), newOnly(jumpChain(chainNodePortsCheck))),
		hooked(t, "filter-forward", nftables.ChainTypeFilter, nftables.ChainHookForward, -110,
			append([][]expr.Any{newOnly(jumpChain(chainEndpointsCheck))}, unknownVIP...)...),
		hooked(t, "filter-output", nftables.ChainTypeFilter, nftables.ChainHookOutput, -110,
			newOnly(jumpChain(chainEndpointsCheck)), newOnly(jumpChain(chainNodePortsCheck))),
		hooked(t, "filter-output-post-dnat", nftables.ChainTypeFilter, nftables.ChainHookOutput, -90, unknownVIP...),
	}
}

// chains: the shard's entry points into its service chains.
func (s *shard) chains() []fixedChain {
	t := s.table
	return []fixedChain{
		regular(t, chainMarkForMasq, markForMasq()),
		regular(t, chainServices, append(serviceTriple(), vmapLookup(s.serviceIPs)), nodePortMatch(s.nodeIPs, s.nodePorts)),
		hooked(t, "nat-prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, -100, []expr.Any{jumpChain(chainServices)}),
		hooked(t, "nat-output", nftables.ChainTypeNAT, nftables.ChainHookOutput, -100, []expr.Any{jumpChain(chainServices)}),
	}
}

// nodePortMatch: ip daddr @nodeport-ips meta l4proto . th dport vmap @m.
func nodePortMatch(nodeIPs, m *nftables.Set) []expr.Any {
	return []expr.Any{loadDaddr(reg1), setLookup(nodeIPs), loadL4Proto(reg1), loadDport(reg9), vmapLookup(m)}
}

// writeFixed adds the chain (idempotent), flushes it and adds its rules.
func writeFixed(c *nftables.Conn, fc fixedChain) {
	c.AddChain(fc.chain)
	c.FlushChain(fc.chain)
	for _, r := range fc.rules {
		c.AddRule(&nftables.Rule{Table: fc.chain.Table, Chain: fc.chain, Exprs: r})
	}
}

func addrElems(addrs []netip.Addr) []nftables.SetElement {
	var out []nftables.SetElement
	for _, a := range addrs {
		if a.Is4() {
			out = append(out, nftables.SetElement{Key: a.AsSlice()})
		}
	}
	return out
}
