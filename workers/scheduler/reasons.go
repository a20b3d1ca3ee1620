package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Filter failure reasons, worded as kube-scheduler words them.
const (
	reasonUnschedulable        = "node(s) were unschedulable"
	reasonNodeName             = "node(s) didn't match the requested node name"
	reasonNodeAffinity         = "node(s) didn't match Pod's node affinity/selector"
	reasonHostPorts            = "node(s) didn't have free ports for the requested pod ports"
	reasonSpread               = "node(s) didn't match pod topology spread constraints"
	reasonSpreadMissing        = "node(s) didn't match pod topology spread constraints (missing required label)"
	reasonPodAffinity          = "node(s) didn't match pod affinity rules"
	reasonPodAntiAffinity      = "node(s) didn't match pod anti-affinity rules"
	reasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonTooManyPods          = "Too many pods"
	reasonInsufficientCPU      = "Insufficient cpu"
	reasonInsufficientMem      = "Insufficient memory"
	untoleratedTaintPattern    = "node(s) had untolerated taint {%s: %s}"
)

func untoleratedTaintReason(t *corev1.Taint) string {
	return fmt.Sprintf(untoleratedTaintPattern, t.Key, t.Value)
}
