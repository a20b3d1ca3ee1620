package statefulset

import (
	"fmt"
	"maps"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultDataDir is the node-local root of claim volumes when Env names none.
const DefaultDataDir = "/var/lib/gantry"

// Env is what Reconcile needs from the world, injected.
type Env struct {
	Now     time.Time
	DataDir string // where nodes keep claim volumes; default DefaultDataDir
}

// Result holds the intents for one StatefulSet.
type Result struct {
	Create []*corev1.Pod
	Delete []*corev1.Pod
	// VolumeNodes, when not nil, is the new value of AnnotationVolumeNodes:
	// a pod with claims was bound to a node not yet recorded.
	VolumeNodes  map[string]string
	Status       appsv1.StatefulSetStatus
	RequeueAfter time.Duration // until a ready pod counts as available
}

// Reconcile brings set's pods towards spec: ordinals 0..replicas-1
// exist, higher ones are gone, every pod runs the current template. pods
// are the pods set controls. With OrderedReady (the default) it makes one
// change at a time and only while every lower ordinal is Running and
// Ready: create in ascending order, delete in descending order; with
// Parallel it creates and deletes all at once. A rolling update replaces
// pods from the highest ordinal down to spec.updateStrategy.rollingUpdate
// .partition, one at a time, each once the one above is healthy again.
func Reconcile(set *appsv1.StatefulSet, pods []*corev1.Pod, env Env) (Result, error) {
	if _, err := metav1.LabelSelectorAsSelector(set.Spec.Selector); err != nil {
		return Result{}, fmt.Errorf("statefulset %s/%s: spec.selector: %w", set.Namespace, set.Name, err)
	}
	if env.DataDir == "" {
		env.DataDir = DefaultDataDir
	}
	r := newRun(set, pods, env)
	res := Result{}
	if set.DeletionTimestamp == nil {
		r.step()
		res.Create, res.Delete = r.create, r.delete
	}
	if r.nodesChanged {
		res.VolumeNodes = r.nodes
	}
	res.Status, res.RequeueAfter = status(set, r, env.Now)
	return res, nil
}

// run is one reconcile's working state.
type run struct {
	set               *appsv1.StatefulSet
	env               Env
	replicas          int
	monotonic         bool
	updateRev, curRev string
	slots             []*corev1.Pod // by ordinal below replicas; nil: missing
	condemned         []*corev1.Pod // ordinals at or above replicas, highest first
	nodes             map[string]string
	nodesChanged      bool
	create, delete    []*corev1.Pod
}

func newRun(set *appsv1.StatefulSet, pods []*corev1.Pod, env Env) *run {
	r := &run{
		set: set, env: env, replicas: int(replicasOf(set)),
		monotonic: set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement,
		updateRev: revision(set), curRev: set.Status.CurrentRevision,
		nodes: volumeNodes(set),
	}
	if r.curRev == "" {
		r.curRev = r.updateRev
	}
	r.slots = make([]*corev1.Pod, r.replicas)
	for _, p := range pods {
		o := ordinalOf(set, p)
		if o < 0 {
			continue
		}
		r.noteNode(o, p)
		if o < r.replicas {
			r.slots[o] = p
		} else {
			r.condemned = append(r.condemned, p)
		}
	}
	sort.Slice(r.condemned, func(i, j int) bool { return ordinalOf(set, r.condemned[i]) > ordinalOf(set, r.condemned[j]) })
	return r
}

// noteNode records the node a pod with claims was bound to, the first time.
func (r *run) noteNode(ordinal int, p *corev1.Pod) {
	key := strconv.Itoa(ordinal)
	if len(r.set.Spec.VolumeClaimTemplates) == 0 || p.Spec.NodeName == "" || r.nodes[key] != "" {
		return
	}
	if !r.nodesChanged {
		r.nodes = maps.Clone(r.nodes)
		r.nodesChanged = true
	}
	r.nodes[key] = p.Spec.NodeName
}

// step decides this round's creates and deletes; in monotonic mode it
// returns at the first change made or the first pod to wait for.
func (r *run) step() {
	if !r.replicasStep() || !r.condemnedStep() {
		return
	}
	r.updateStep()
}

// replicasStep creates missing ordinals and replaces finished ones, in
// ascending order; false means "stop here this round".
func (r *run) replicasStep() bool {
	for i, p := range r.slots {
		switch {
		case p == nil:
			r.create = append(r.create, newPod(r.set, i, r.updateRev, r.env.DataDir, r.nodes[strconv.Itoa(i)]))
		case finished(p) && p.DeletionTimestamp == nil:
			r.delete = append(r.delete, p) // re-created, same name, once gone
		case healthy(p):
			continue
		}
		if r.monotonic {
			return false
		}
	}
	return true
}

// condemnedStep deletes ordinals at or above replicas, highest first.
func (r *run) condemnedStep() bool {
	for _, p := range r.condemned {
		if p.DeletionTimestamp == nil {
			r.delete = append(r.delete, p)
		}
		if r.monotonic {
			return false
		}
	}
	return true
}

// updateStep replaces the highest pod not on the update revision, waiting
// for every pod above it to be healthy.
func (r *run) updateStep() {
	if r.set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return
	}
	partition := 0
	if ru := r.set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = int(*ru.Partition)
	}
	for i := len(r.slots) - 1; i >= partition; i-- {
		p := r.slots[i]
		if p == nil {
			continue // being created this round (Parallel)
		}
		if p.Labels[LabelRevisionHash] != r.updateRev && p.DeletionTimestamp == nil {
			r.delete = append(r.delete, p)
			return
		}
		if !healthy(p) {
			return
		}
	}
}

func replicasOf(set *appsv1.StatefulSet) int32 {
	if set.Spec.Replicas == nil {
		return 1
	}
	return *set.Spec.Replicas
}

// healthy: Running, Ready and not terminating.
func healthy(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && readyCondition(p) != nil
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

// readyCondition is the pod's Ready=True condition, or nil.
func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}
