package garbagecollector

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Dangling splits an object's owner references into those whose owner
// exists (by exists) and those whose owner is gone.
func Dangling(refs []metav1.OwnerReference, exists func(metav1.OwnerReference) bool) (keep, gone []metav1.OwnerReference) {
	for _, r := range refs {
		if exists(r) {
			keep = append(keep, r)
		} else {
			gone = append(gone, r)
		}
	}
	return keep, gone
}

// Verdict is what to do with one dependent.
type Verdict int

// Verdicts.
const (
	Keep   Verdict = iota // every owner is there (or it has none)
	Delete                // every owner is gone
	Patch                 // some owners are gone: drop their references
)

// Decide is the collector's rule for one object.
func Decide(refs []metav1.OwnerReference, exists func(metav1.OwnerReference) bool) (Verdict, []metav1.OwnerReference) {
	keep, gone := Dangling(refs, exists)
	switch {
	case len(gone) == 0:
		return Keep, nil
	case len(keep) == 0:
		return Delete, nil
	}
	return Patch, keep
}
