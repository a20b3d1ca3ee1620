// Package dns is the cluster DNS worker: a miekg/dns server that answers
// names under the cluster domain (cluster.local by default) from an
// in-memory Store, with no bus round trip per query.
//
// Names served (zone = the cluster domain):
//
//	<svc>.<ns>.svc.<zone>                 A/AAAA: cluster IPs; headless: ready endpoint IPs
//	<host>.<svc>.<ns>.svc.<zone>          A/AAAA of the endpoint with that hostname (or dashed IP)
//	_<port>._<proto>.<svc>.<ns>.svc.<zone> SRV
//	<a-b-c-d>.<ns>.pod.<zone>             A of the dashed pod IP
//	<svc>.<ns>.svc.<zone> (ExternalName)  CNAME to the external name
//	reverse names of cluster IPs and endpoint IPs     PTR
//
// Other names in the zone get NXDOMAIN with the SOA in authority; names
// outside it go to the configured upstreams (none: REFUSED; all failing:
// SERVFAIL).
//
// Subscribes: service and endpointslice changes of the current-state view
// (Worker, worker.go): a change marks the object dirty and one goroutine
// copies its current state into the Store (Store.UpsertService/
// DeleteService, Store.UpsertSlice/DeleteSlice). Pods are not consumed: endpoint slices carry
// the pod IPs, hostnames and readiness DNS needs.
//
// Sends: no commands; DNS only reads.
//
// Metrics: gantry_dns_requests_total{rcode,qtype},
// gantry_dns_request_seconds, gantry_dns_forward_total{result},
// gantry_dns_services (gauge).
//
// Ready when: the initial replay of services and endpoint slices is in the
// Store and both UDP and TCP listeners are bound.
package dns
