// Package ingress is the L7 router: it serves networking.k8s.io/v1
// Ingresses of the class "gantry" (spec.ingressClassName "gantry", the
// legacy kubernetes.io/ingress.class annotation "gantry", or no class at
// all: gantry is the default class) over HTTP and HTTPS.
//
// Routing: a request's host picks the rules (exact host, then a wildcard
// "*.example.com" matching one label, then rules without a host); among
// their paths the longest match wins, Exact before Prefix at equal length
// (Prefix matches whole path elements: /foo matches /foo and /foo/bar, not
// /foobar; ImplementationSpecific is Prefix). No match: the default
// backend, else 404. A backend's service port (number or name) resolves
// through the service to its EndpointSlices; requests go straight to the
// ready endpoints, round robin, over one keep-alive connection pool
// (503 when none is ready). The proxy sets X-Forwarded-For, -Host and
// -Proto and keeps the client's Host header.
//
// TLS: spec.tls names kubernetes.io/tls Secrets (tls.crt, tls.key) per
// host; the certificate is chosen by SNI (exact, then wildcard, then the
// first one). Secrets are read opened from the view (the view's sealer).
//
// Reload: every change to an ingress, service, endpoint slice or secret
// rebuilds the route table off to the side and swaps it in atomically;
// requests in flight keep the backend they were given, the connection
// pool is never closed, so a reload drops nothing.
//
// Subscribes: ingress, service, endpointslice and secret changes of the
// current-state view (one consumer per ingress node).
//
// Sends: ingress.status with status.loadBalancer.ingress set to the
// router's address (Options.StatusAddress), only when it differs, as
// source "gantry/ingress".
//
// Metrics: gantry_ingress_requests_total{code}, gantry_ingress_reloads_total.
//
// Ready when: the first route table is built and the listeners are bound.
package ingress
