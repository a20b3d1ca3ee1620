package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Decision is where one pod should go.
type Decision struct {
	Pod       string // namespace/name
	Node      string
	Score     int64 // total weighted score of the chosen node
	Feasible  int   // feasible nodes found before scoring
	Evaluated int   // nodes filtered to find them
}

const (
	minFeasibleNodesToFind        = 100
	minFeasibleNodesPercentToFind = 5
)

// Schedule picks a node for one pod from a fresh snapshot of the view. A
// long-running loop should keep a Cache and call Cache.Schedule instead.
func Schedule(view ClusterView, pod *corev1.Pod, cfg Config) (Decision, error) {
	return Snapshot(view, cfg).Schedule(pod)
}

// Schedule picks a node for the pod: filter nodes round-robin until enough
// feasible ones are found, score them, take the best (ties broken by the
// seeded generator). It does not assume the pod; call Assume to do so.
// A pod that fits nowhere gets a *FitError (errors.Is ErrUnschedulable).
func (c *Cache) Schedule(pod *corev1.Pod) (Decision, error) {
	n := len(c.nodes)
	if n == 0 {
		return Decision{}, fmt.Errorf("scheduler: pod %s: %w", podKey(pod), ErrNoNodesAvailable)
	}
	ps := c.newPodState(pod)
	cands, reasons, evaluated := c.findFeasible(ps)
	if len(cands) == 0 {
		return Decision{}, &FitError{Pod: podKey(pod), NumAllNodes: n, Reasons: reasons}
	}
	best := c.pick(cands)
	return Decision{
		Pod:       podKey(pod),
		Node:      best.ni.node.Name,
		Score:     best.total,
		Feasible:  len(cands),
		Evaluated: evaluated,
	}, nil
}

// findFeasible filters nodes starting where the previous search stopped and
// returns once numFeasibleNodesToFind candidates are found.
func (c *Cache) findFeasible(ps *podState) ([]candidate, map[string]int, int) {
	n := len(c.nodes)
	want := numFeasibleNodesToFind(c.cfg.PercentageOfNodesToScore, n)
	cands := make([]candidate, 0, min(want, n))
	var (
		reasons map[string]int
		scratch []string
		i       int
	)
	for i = 0; i < n && len(cands) < want; i++ {
		ni := c.nodes[(c.next+i)%n]
		scratch = filter(ps, ni, scratch[:0])
		if len(scratch) == 0 {
			cands = append(cands, newCandidate(ps, ni))
			continue
		}
		if reasons == nil {
			reasons = map[string]int{}
		}
		for _, r := range scratch {
			reasons[r]++
		}
	}
	c.next = (c.next + i) % n
	return cands, reasons, i
}

// pick scores the candidates and returns the best, choosing uniformly among
// equal scores (reservoir sampling with the cache's seeded generator).
func (c *Cache) pick(cands []candidate) *candidate {
	if len(cands) > 1 {
		scoreAll(cands)
	}
	best, ties := &cands[0], 1
	for i := 1; i < len(cands); i++ {
		switch cand := &cands[i]; {
		case cand.total > best.total:
			best, ties = cand, 1
		case cand.total == best.total:
			ties++
			if c.rng.IntN(ties) == 0 {
				best = cand
			}
		}
	}
	return best
}

// numFeasibleNodesToFind is kube-scheduler's adaptive sample size.
func numFeasibleNodesToFind(percentage, all int) int {
	if all < minFeasibleNodesToFind || percentage >= 100 {
		return all
	}
	if percentage <= 0 {
		percentage = max(50-all/125, minFeasibleNodesPercentToFind)
	}
	return max(all*percentage/100, minFeasibleNodesToFind)
}
