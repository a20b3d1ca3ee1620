// Package endpoints is the EndpointSlice controller: for each Service with a
// selector it computes the EndpointSlices that list the matching pods.
//
// The core is Compute, a pure function of one Service and the pods of its
// namespace; it does no I/O. Controller (controller.go) is the thin loop:
// it feeds Compute from a current-state view and sends the difference as
// commands, as source "gantry/endpoints", only when a slice differs.
//
// Subscribes: changes of services, pods and endpoint slices in the
// current-state view (projections.View.OnChange): a change marks its
// service dirty (a pod: every service whose selector matched it before or
// matches it now); one goroutine syncs dirty services from the view. A
// periodic resync recomputes every service so a lost wake-up heals itself;
// a failed sync is retried with backoff.
//
// Sends: endpointslice.apply (create or replace a slice computed here) and
// endpointslice.delete (a slice this controller manages that Compute no
// longer returns). Slices are labelled kubernetes.io/service-name and
// endpointslice.kubernetes.io/managed-by=ManagedBy; slices managed by others
// are never touched.
//
// Metrics: gantry_endpoints_syncs_total{result}, gantry_endpoints_sync_seconds,
// gantry_endpoints_slices (gauge), gantry_endpoints_commands_total{verb}.
//
// Ready when: the service and pod views have caught up with the stream (the
// initial replay is done) and the first full resync has been sent.
package endpoints
