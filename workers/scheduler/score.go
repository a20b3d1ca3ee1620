package scheduler

// Score weights, after kube-scheduler's default profile. Owner spreading
// stands in for the default hostname spread constraint, hence weight 2.
const (
	maxNodeScore          = 100
	weightLeastAllocated  = 1
	weightBalanced        = 1
	weightNodeAffinity    = 2
	weightTaintToleration = 3
	weightTopologySpread  = 2
	weightOwnerSpread     = 2
	weightInterPod        = 2
)

// candidate is a feasible node and the raw inputs of its normalised scores.
type candidate struct {
	ni       *nodeInfo
	fit      int64 // least-allocated + balanced, already 0..200
	affinity int64 // preferred affinity weight matched (higher is better)
	taints   int64 // untolerated PreferNoSchedule taints (lower is better)
	spread   int64 // soft spread count (lower is better, -1 missing label)
	owner    int64 // pods of the same owner here (lower is better)
	interPod int64 // preferred pod (anti-)affinity weight (higher is better, may be negative)
	total    int64
}

func newCandidate(ps *podState, ni *nodeInfo) candidate {
	return candidate{
		ni:       ni,
		fit:      weightLeastAllocated*leastAllocated(ps, ni) + weightBalanced*balanced(ps, ni),
		affinity: preferredAffinityWeight(ps.pod, ni.node),
		taints:   int64(countPreferNoSchedule(ni.taints, ps.pod.Spec.Tolerations)),
		spread:   spreadRaw(ps.soft, ni.node),
		owner:    int64(ni.owners[ps.owner]),
		interPod: ps.inter.scoreRaw(ni.node),
	}
}

// leastAllocated favours nodes with more free cpu and memory (0..100).
func leastAllocated(ps *podState, ni *nodeInfo) int64 {
	cpu := freeShare(ni.nonZero.milliCPU+ps.nonZero.milliCPU, ni.allocatable.milliCPU)
	mem := freeShare(ni.nonZero.memory+ps.nonZero.memory, ni.allocatable.memory)
	return (cpu + mem) / 2
}

func freeShare(requested, capacity int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxNodeScore / capacity
}

// balanced favours nodes whose cpu and memory use stay in proportion
// (0..100): 100 minus the standard deviation of the two fractions.
func balanced(ps *podState, ni *nodeInfo) int64 {
	cpu := fraction(ni.nonZero.milliCPU+ps.nonZero.milliCPU, ni.allocatable.milliCPU)
	mem := fraction(ni.nonZero.memory+ps.nonZero.memory, ni.allocatable.memory)
	std := cpu - mem
	if std < 0 {
		std = -std
	}
	return int64((1 - std/2) * maxNodeScore)
}

func fraction(requested, capacity int64) float64 {
	if capacity <= 0 {
		return 1
	}
	return min(float64(requested)/float64(capacity), 1)
}

// scoreAll normalises each raw input across the candidates and sums the
// weighted scores into total.
func scoreAll(cands []candidate) {
	var maxAff, maxTaint, maxOwner int64
	minSpread, maxSpread := int64(-1), int64(-1)
	minInter, maxInter := cands[0].interPod, cands[0].interPod
	for i := range cands {
		c := &cands[i]
		maxAff, maxTaint, maxOwner = max(maxAff, c.affinity), max(maxTaint, c.taints), max(maxOwner, c.owner)
		minInter, maxInter = min(minInter, c.interPod), max(maxInter, c.interPod)
		if c.spread >= 0 {
			if minSpread < 0 || c.spread < minSpread {
				minSpread = c.spread
			}
			maxSpread = max(maxSpread, c.spread)
		}
	}
	for i := range cands {
		c := &cands[i]
		c.total = c.fit +
			weightNodeAffinity*scaleUp(c.affinity, maxAff) +
			weightTaintToleration*scaleDown(c.taints, 0, maxTaint) +
			weightTopologySpread*spreadScore(c.spread, minSpread, maxSpread) +
			weightOwnerSpread*scaleDown(c.owner, 0, maxOwner) +
			weightInterPod*scaleBetween(c.interPod, minInter, maxInter)
	}
}

// scaleUp maps 0..hi onto 0..100 (more is better).
func scaleUp(v, hi int64) int64 {
	if hi <= 0 {
		return 0
	}
	return v * maxNodeScore / hi
}

// scaleBetween maps lo..hi onto 0..100 (more is better); 0 when all are
// equal, as kube-scheduler normalises inter-pod affinity.
func scaleBetween(v, lo, hi int64) int64 {
	if hi <= lo {
		return 0
	}
	return (v - lo) * maxNodeScore / (hi - lo)
}

// scaleDown maps lo..hi onto 100..0 (less is better).
func scaleDown(v, lo, hi int64) int64 {
	if hi <= lo {
		return maxNodeScore
	}
	return (hi - v) * maxNodeScore / (hi - lo)
}

func spreadScore(v, lo, hi int64) int64 {
	if v < 0 {
		return 0
	}
	return scaleDown(v, lo, hi)
}
