package scheduler

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Config tunes a Cache. The zero value is the kube-scheduler default.
type Config struct {
	// PercentageOfNodesToScore bounds how many feasible nodes are looked for
	// before scoring, as in kube-scheduler: 0 is adaptive (50% minus 1% per
	// 125 nodes, at least 5%, never fewer than 100 nodes); 100 scores all.
	PercentageOfNodesToScore int
	// Seed drives the tie-break between equally scored nodes, so the same
	// seed and the same inputs give the same placements.
	Seed uint64
}

// Cache holds per-node aggregates (requested resources, host ports, pods
// per owner, topology spread counts, the pods with pod affinity terms)
// updated incrementally. The scheduling loop keeps one and feeds it node,
// namespace and pod changes; Compute builds one per batch. A Cache is not
// safe for concurrent use.
type Cache struct {
	cfg     Config
	nodes   []*nodeInfo // sorted by name
	byName  map[string]*nodeInfo
	podNode map[string]string // pod key → node it is accounted on
	spreads map[string]*spreadIndex
	// bound pods with pod (anti-)affinity terms, by pod key, not deleting
	termPods   map[string]*termPod
	namespaces map[string]labels.Set // labels by namespace, for namespaceSelector
	next       int                   // round-robin start of the next search, as kube-scheduler
	rng        *rand.Rand
}

// NewCache returns an empty cache.
func NewCache(cfg Config) *Cache {
	return &Cache{
		cfg:        cfg,
		byName:     map[string]*nodeInfo{},
		podNode:    map[string]string{},
		spreads:    map[string]*spreadIndex{},
		termPods:   map[string]*termPod{},
		namespaces: map[string]labels.Set{},
		rng:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
}

// Snapshot builds a cache from a view: every node and the pods bound to it,
// and the namespaces when the view is a NamespaceLister.
func Snapshot(view ClusterView, cfg Config) *Cache {
	c := NewCache(cfg)
	if nl, ok := view.(NamespaceLister); ok {
		for _, ns := range nl.Namespaces() {
			c.SetNamespace(ns)
		}
	}
	for _, n := range view.Nodes() {
		c.SetNode(n)
	}
	for _, ni := range c.nodes {
		for _, p := range view.PodsOnNode(ni.node.Name) {
			_ = c.AddPod(p) // bound to a node we just added: cannot fail
		}
	}
	return c
}

// SetNode adds a node or replaces its object, keeping its pods.
func (c *Cache) SetNode(node *corev1.Node) {
	if ni, ok := c.byName[node.Name]; ok {
		ni.setNode(node)
		return
	}
	ni := newNodeInfo(node)
	c.byName[node.Name] = ni
	i, _ := slices.BinarySearchFunc(c.nodes, node.Name, func(n *nodeInfo, name string) int {
		return strings.Compare(n.node.Name, name)
	})
	c.nodes = slices.Insert(c.nodes, i, ni)
}

// RemoveNode forgets a node and the pods accounted on it.
func (c *Cache) RemoveNode(name string) {
	ni, ok := c.byName[name]
	if !ok {
		return
	}
	for key, p := range ni.pods {
		c.untrack(key, p, name)
	}
	delete(c.byName, name)
	c.nodes = slices.DeleteFunc(c.nodes, func(n *nodeInfo) bool { return n == ni })
}

// AddPod accounts a pod on its spec.nodeName, replacing an earlier version
// of it. Terminal pods (Succeeded, Failed) and unbound pods hold nothing.
func (c *Cache) AddPod(pod *corev1.Pod) error {
	c.RemovePod(pod)
	if pod.Spec.NodeName == "" || !counted(pod) {
		return nil
	}
	ni, ok := c.byName[pod.Spec.NodeName]
	if !ok {
		return fmt.Errorf("scheduler: pod %s: node %q is not in the cache", podKey(pod), pod.Spec.NodeName)
	}
	key := podKey(pod)
	ni.addPod(key, pod)
	c.podNode[key] = ni.node.Name
	if pod.DeletionTimestamp == nil {
		if terms := newPodTerms(pod); terms != nil {
			c.termPods[key] = &termPod{node: ni, terms: terms}
		}
	}
	for _, idx := range c.spreads {
		idx.update(pod, ni.node.Name, 1)
	}
	return nil
}

// RemovePod releases what the pod held, wherever it was accounted.
func (c *Cache) RemovePod(pod *corev1.Pod) {
	key := podKey(pod)
	name, ok := c.podNode[key]
	if !ok {
		return
	}
	if old := c.byName[name].pods[key]; old != nil {
		c.untrack(key, old, name)
	}
}

func (c *Cache) untrack(key string, pod *corev1.Pod, node string) {
	c.byName[node].removePod(key)
	delete(c.podNode, key)
	delete(c.termPods, key)
	for _, idx := range c.spreads {
		idx.update(pod, node, -1)
	}
}

// Assume accounts a pod on a node before the binding is confirmed, so the
// next decision sees it. The pod object is copied, not modified.
func (c *Cache) Assume(pod *corev1.Pod, node string) error {
	bound := *pod
	bound.Spec.NodeName = node
	return c.AddPod(&bound)
}

// SetNamespace records a namespace's labels, which pod affinity terms'
// namespaceSelector match. Every namespace carries
// kubernetes.io/metadata.name=<name>, as kube-apiserver sets it. It reports
// whether the labels changed.
func (c *Cache) SetNamespace(ns *corev1.Namespace) bool {
	set := make(labels.Set, len(ns.Labels)+1)
	maps.Copy(set, ns.Labels)
	set[corev1.LabelMetadataName] = ns.Name
	old, ok := c.namespaces[ns.Name]
	c.namespaces[ns.Name] = set
	return !ok || !maps.Equal(old, set)
}

// RemoveNamespace forgets a namespace's labels.
func (c *Cache) RemoveNamespace(name string) { delete(c.namespaces, name) }

// holds reports whether the pod is accounted on a node.
func (c *Cache) holds(key string) bool {
	_, ok := c.podNode[key]
	return ok
}

// NodeCount is the number of nodes in the cache.
func (c *Cache) NodeCount() int { return len(c.nodes) }
