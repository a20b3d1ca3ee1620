package proxy

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables/expr"
)

// planner turns ServicePorts into plans for one node.
type planner struct {
	base        *base
	node        string
	clusterCIDR netip.Prefix
}

// build returns the plan of one service port.
func (pl *planner) build(sp *ServicePort) *plan {
	p := newPlan()
	if len(sp.ready("", false)) == 0 {
		pl.rejectAll(p, sp)
		return p
	}
	sh := pl.base.shardFor(sp.Namespace, sp.Name)
	svc := svcChainName(sp)
	eps := pl.endpointChains(p, sh, sp, sp.ready("", false))
	p.chains[ref{sh.table.Name, svc}] = pl.serviceChain(sp, eps)
	p.addElem(sh.serviceIPs, serviceKey(sp.ClusterIP, sp.Protocol, sp.Port), svc)
	if sp.external() {
		pl.external(p, sh, sp, svc)
	}
	return p
}

// rejectAll sends every address of a port with no ready endpoint to the
// reject chain.
func (pl *planner) rejectAll(p *plan, sp *ServicePort) {
	p.addElem(pl.base.noEPIPs, serviceKey(sp.ClusterIP, sp.Protocol, sp.Port), chainReject)
	for _, ip := range sp.LoadBalancerIPs {
		p.addElem(pl.base.noEPIPs, serviceKey(ip, sp.Protocol, sp.Port), chainReject)
	}
	if sp.NodePort != 0 {
		p.addElem(pl.base.noEPNodePt, nodePortKey(sp.Protocol, sp.NodePort), chainReject)
	}
}

// epRef is an endpoint chain and its affinity set ("" without affinity).
type epRef struct {
	chain, affinity string
}

func (pl *planner) endpointChains(p *plan, sh *shard, sp *ServicePort, eps []Endpoint) map[Endpoint]epRef {
	refs := map[Endpoint]epRef{}
	for _, e := range eps {
		r := epRef{chain: epChainName(sp, e)}
		if sp.AffinityTimeout > 0 {
			r.affinity = affinitySetName(sp, e)
			p.sets[ref{sh.table.Name, r.affinity}] = sp.AffinityTimeout
		}
		p.chains[ref{sh.table.Name, r.chain}] = pl.endpointChain(sp, e, r)
		refs[e] = r
	}
	return refs
}

// endpointChain: hairpin masquerade, affinity update, dnat.
func (pl *planner) endpointChain(sp *ServicePort, e Endpoint, ref epRef) *chainPlan {
	c := &chainPlan{sum: fmt.Sprintf("ep %s:%d aff=%s", e.IP, e.Port, ref.affinity)}
	c.rules = append(c.rules, append(saddrIs(e.IP), jumpChain(chainMarkForMasq)))
	if ref.affinity != "" {
		c.rules = append(c.rules, []expr.Any{loadSaddr(reg1), &expr.Dynset{
			SrcRegKey: reg1, SetName: ref.affinity, Operation: uint32(1), // NFT_DYNSET_OP_UPDATE
			Timeout: sp.AffinityTimeout,
		}})
	}
	c.rules = append(c.rules, dnatTo(e.IP, e.Port))
	return c
}

// serviceChain balances cluster traffic over all ready endpoints.
func (pl *planner) serviceChain(sp *ServicePort, refs map[Endpoint]epRef) *chainPlan {
	c := &chainPlan{}
	if pl.clusterCIDR.IsValid() {
		c.rules = append(c.rules, append(saddrNotIn(pl.clusterCIDR), jumpChain(chainMarkForMasq)))
	}
	pl.balance(c, sp.ready("", false), refs)
	c.sum = fmt.Sprintf("svc cidr=%v aff=%v to=%v", pl.clusterCIDR, sp.AffinityTimeout, c.numgen)
	return c
}

// balance adds affinity checks and the numgen rule over eps.
func (pl *planner) balance(c *chainPlan, eps []Endpoint, refs map[Endpoint]epRef) {
	for _, e := range eps {
		ref := refs[e]
		if ref.affinity != "" {
			c.rules = append(c.rules, []expr.Any{loadSaddr(reg1),
				&expr.Lookup{SourceRegister: reg1, SetName: ref.affinity}, gotoChain(ref.chain)})
		}
		c.numgen = append(c.numgen, ref.chain)
	}
}

// external programs NodePort and load-balancer traffic through the ext
// chain: Cluster policy masquerades and uses every endpoint, Local keeps
// the client address and uses this node's endpoints or drops.
func (pl *planner) external(p *plan, sh *shard, sp *ServicePort, svc string) {
	ext := extChainName(sp)
	c := &chainPlan{}
	if sp.ExternalLocal {
		local := sp.ready(pl.node, true)
		pl.balance(c, local, pl.endpointChains(p, sh, sp, local))
		if len(local) == 0 {
			c.rules = append(c.rules, []expr.Any{verdict(expr.VerdictDrop)})
		}
	} else {
		c.rules = [][]expr.Any{{jumpChain(chainMarkForMasq)}, {gotoChain(svc)}}
	}
	c.sum = fmt.Sprintf("ext local=%v aff=%v to=%v", sp.ExternalLocal, sp.AffinityTimeout, c.numgen)
	p.chains[ref{sh.table.Name, ext}] = c
	for _, ip := range sp.LoadBalancerIPs {
		p.addElem(sh.serviceIPs, serviceKey(ip, sp.Protocol, sp.Port), ext)
	}
	if sp.NodePort != 0 {
		p.addElem(sh.nodePorts, nodePortKey(sp.Protocol, sp.NodePort), ext)
	}
}
