package ingress

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// Router is the http.Handler: it routes by the current table.
type Router struct {
	table atomic.Pointer[Table]
	proxy *httputil.ReverseProxy
	// Transport is the one keep-alive pool to every backend.
	Transport *http.Transport
}

type targetKey struct{}

// NewRouter makes a router with an empty table.
func NewRouter() *Router {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	rt := &Router{Transport: tr}
	rt.proxy = &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := pr.In.Context().Value(targetKey{}).(string)
			pr.SetURL(&url.URL{Scheme: "http", Host: target})
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "ingress: backend: "+err.Error(), http.StatusBadGateway)
		},
	}
	rt.table.Store(Build(Objects{}))
	return rt
}

// Swap installs a new table; requests in flight keep their backend.
func (rt *Router) Swap(t *Table) { rt.table.Store(t) }

// Table is the current table.
func (rt *Router) Table() *Table { return rt.table.Load() }

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := rt.table.Load().match(r.Host, r.URL.Path)
	if b == nil {
		http.Error(w, "ingress: no route for "+r.Host+r.URL.Path, http.StatusNotFound)
		return
	}
	target, ok := b.pick()
	if !ok {
		http.Error(w, "ingress: no ready endpoints for "+b.name, http.StatusServiceUnavailable)
		return
	}
	rt.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, target)))
}
