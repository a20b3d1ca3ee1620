package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeInfo is the scheduler's running tally for one node. It is updated
// incrementally as pods are added, assumed and removed, so a decision never
// re-sums the pods on a node.
type nodeInfo struct {
	node *corev1.Node
	// What every pod's filters read of the node, kept here so that
	// filtering hundreds of nodes per pod does not reach into each Node.
	name          string
	unschedulable bool
	taints        []corev1.Taint
	readyTaint    *corev1.Taint // conditionTaint(node)
	allocatable   resources
	requested     resources // sum of podRequests
	nonZero       resources // sum of nonZeroRequests, for scoring
	ports         hostPorts
	owners        map[string]int // controller owner key → pods here
	pods          map[string]*corev1.Pod
}

func newNodeInfo(node *corev1.Node) *nodeInfo {
	n := &nodeInfo{ports: hostPorts{}, owners: map[string]int{}, pods: map[string]*corev1.Pod{}}
	n.setNode(node)
	return n
}

// setNode takes a new version of the node, and what the filters read of
// it that no pod changes.
func (n *nodeInfo) setNode(node *corev1.Node) {
	n.node = node
	n.name, n.unschedulable, n.taints = node.Name, node.Spec.Unschedulable, node.Spec.Taints
	n.allocatable = nodeAllocatable(node)
	n.readyTaint = conditionTaint(node)
}

func (n *nodeInfo) addPod(key string, pod *corev1.Pod) {
	n.pods[key] = pod
	n.requested.add(podRequests(pod))
	n.nonZero.add(nonZeroRequests(pod))
	n.ports.add(pod, 1)
	if owner := ownerKey(pod); owner != "" {
		n.owners[owner]++
	}
}

func (n *nodeInfo) removePod(key string) *corev1.Pod {
	pod, ok := n.pods[key]
	if !ok {
		return nil
	}
	delete(n.pods, key)
	n.requested.sub(podRequests(pod))
	n.nonZero.sub(nonZeroRequests(pod))
	n.ports.add(pod, -1)
	if owner := ownerKey(pod); owner != "" {
		n.owners[owner]--
		if n.owners[owner] <= 0 {
			delete(n.owners, owner)
		}
	}
	return pod
}

// ownerKey names the pod's controller (ownerReferences with controller=true)
// as namespace/kind/name, or "" for a pod without one.
func ownerKey(pod *corev1.Pod) string {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return ""
	}
	return pod.Namespace + "/" + ref.Kind + "/" + ref.Name
}

func podKey(pod *corev1.Pod) string {
	return pod.Namespace + "/" + pod.Name
}

// counted reports whether a pod holds node resources: terminal pods do not.
func counted(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}
