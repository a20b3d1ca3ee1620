// Package endpoints is the EndpointSlice controller: for each Service with a
// selector it computes the EndpointSlices that list the matching pods.
//
// The core is Compute, a pure function of one Service and the pods of its
// namespace; it does no I/O. A thin loop (wired by the lead in cmd/) feeds it
// from projections and sends the difference as commands.
//
// Subscribes: service events (created, updated, deleted) and pod events
// (created, bound, status changed, deleting, deleted) through one durable
// consumer named for this controller; a periodic resync recomputes every
// service so a lost wake-up heals itself.
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
