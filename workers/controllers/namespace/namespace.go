package namespace

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Object is what the controller knows of one namespaced object.
type Object struct {
	Kind        string // token: "pod", "deployment", …
	Name        string
	UID         types.UID
	Owners      []metav1.OwnerReference
	Terminating bool // deletionTimestamp set: a delete is already under way
}

// Result holds the intents for one namespace.
type Result struct {
	Delete []Object
	// Finalize: the namespace is Terminating and empty; remove it.
	Finalize bool
	// Remaining is how many objects are still in the namespace.
	Remaining int
}

// deleteRank orders the kinds of one round: what would re-create or scale
// others goes first, plain data last. Unlisted kinds come after these.
var deleteRank = map[string]int{
	"horizontalpodautoscaler": 0,
	"cronjob":                 1, "deployment": 2, "statefulset": 3, "daemonset": 4, "job": 5, "replicaset": 6,
	"pod": 7, "ingress": 8, "service": 9, "endpointslice": 10,
	"configmap": 11, "secret": 12,
}

// Reconcile decides one round of the namespace's clean-up. ns is the
// Namespace (nil once deleted, as the delete verb does today); objects are
// every namespaced object in it. A namespace that exists and is not
// terminating is left alone. Otherwise each round deletes the objects none
// of whose owners is still present, so owners go first and their
// dependents follow once orphaned (the garbage collector may well get
// there first: a NotFound is fine). Owner cycles are broken by deleting
// everything left when no object is free.
func Reconcile(ns *corev1.Namespace, objects []Object) Result {
	if ns != nil && ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceTerminating {
		return Result{}
	}
	res := Result{Remaining: len(objects)}
	if len(objects) == 0 {
		res.Finalize = ns != nil
		return res
	}
	present := map[types.UID]bool{}
	for _, o := range objects {
		present[o.UID] = true
	}
	var free, pending []Object
	for _, o := range objects {
		if o.Terminating {
			continue
		}
		pending = append(pending, o)
		if !ownedByPresent(o, present) {
			free = append(free, o)
		}
	}
	if len(free) == 0 {
		free = pending // a cycle, or owners only terminating: delete the rest
	}
	sort.Slice(free, func(i, j int) bool {
		ri, rj := rank(free[i].Kind), rank(free[j].Kind)
		if ri != rj {
			return ri < rj
		}
		return free[i].Name < free[j].Name
	})
	res.Delete = free
	return res
}

func ownedByPresent(o Object, present map[types.UID]bool) bool {
	for _, r := range o.Owners {
		if present[r.UID] {
			return true
		}
	}
	return false
}

func rank(kind string) int {
	if r, ok := deleteRank[kind]; ok {
		return r
	}
	return len(deleteRank)
}
