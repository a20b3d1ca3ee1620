// Package aggregates holds Gantry's rules: for every kind, what a command
// may do to an object (Decide) and how an event changes it (Apply). It is
// pure: no NATS, no clock, no randomness except what Env injects.
//
// An object's life is the events on its subject:
//
//	created         the whole object, as accepted
//	updated         a JSON merge patch (RFC 7386) from the old object to the new
//	scaled          spec.replicas changed (deployments, replica sets)
//	labeled         metadata.labels changed (null removes a key)
//	bound           a pod was bound to a node
//	status-changed  .status replaced by what a controller or agent observed
//	terminating     deletion requested; the object stays until finalized
//	deleted         the tombstone; history stays
//
// Apply works on the object's JSON, so projections fold events without
// decoding typed objects, and every fold in Gantry uses this one function.
// Decide works on typed upstream Kubernetes objects (k8s.io/api) and answers
// with Kubernetes status errors (k8s.io/apimachinery/pkg/api/errors), so a
// refusal reads as kubectl users know it.
package aggregates
