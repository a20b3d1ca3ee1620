package scheduler

import corev1 "k8s.io/api/core/v1"

// ClusterView is the read-only state the scheduler needs. The projections
// package satisfies it; tests use a slice-backed fake.
type ClusterView interface {
	// Nodes returns every node in the cluster.
	Nodes() []*corev1.Node
	// PodsOnNode returns the pods bound to the named node (spec.nodeName).
	PodsOnNode(name string) []*corev1.Pod
}

// NamespaceLister is what a ClusterView may also offer: Snapshot reads the
// namespaces' labels from it, for pod affinity terms with a
// namespaceSelector. Without it, a non-empty namespaceSelector selects no
// namespace.
type NamespaceLister interface {
	Namespaces() []*corev1.Namespace
}
