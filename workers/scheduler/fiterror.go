package scheduler

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnschedulable classifies every "no node fits" outcome; test with
// errors.Is.
var ErrUnschedulable = errors.New("pod is unschedulable")

// ErrNoNodesAvailable is returned when the cluster has no nodes at all.
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// FitError says why a pod fits on no node. Error() is exactly the text
// kube-scheduler puts in the PodScheduled condition, e.g.
//
//	0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 2 Insufficient cpu.
//
// The reason histogram is sorted as strings, as kube-scheduler does.
type FitError struct {
	Pod         string         // namespace/name
	NumAllNodes int            // nodes in the cluster
	Reasons     map[string]int // reason → nodes that gave it
}

func (e *FitError) Error() string {
	parts := make([]string, 0, len(e.Reasons))
	for reason, n := range e.Reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, reason))
	}
	sort.Strings(parts)
	return fmt.Sprintf("0/%d nodes are available: %s.", e.NumAllNodes, strings.Join(parts, ", "))
}

// Is makes errors.Is(err, ErrUnschedulable) true for a FitError.
func (e *FitError) Is(target error) bool { return target == ErrUnschedulable }
