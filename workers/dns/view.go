package dns

import (
	"net/netip"
)

// View is what the handler reads. Store implements it; names are relative
// to the cluster domain and lower case.
type View interface {
	// Service returns the records of service name in namespace ns.
	Service(ns, name string) (*ServiceRecords, bool)
	// HasNamespace reports whether any service lives in ns.
	HasNamespace(ns string) bool
	// PTR returns the name (relative to the zone, e.g. "web.default.svc")
	// an IP reverses to.
	PTR(ip netip.Addr) (string, bool)
}

// ServiceRecords is an immutable snapshot of what DNS knows about one
// service; the Store replaces it whole on every change.
type ServiceRecords struct {
	Namespace, Name string
	Headless        bool
	ExternalName    string
	ClusterIPs      []netip.Addr
	Ports           []Port
	// Endpoints are the ready endpoints, one per address.
	Endpoints []Endpoint
}

// Port is a named service or endpoint port; Protocol is lower case.
type Port struct {
	Name     string
	Protocol string
	Port     uint16
}

// Endpoint is one ready address behind a service.
type Endpoint struct {
	Addr     netip.Addr
	Hostname string
	Ports    []Port
}

// Label is the endpoint's first label under the service: its hostname,
// else its IP with dots (or colons) as dashes.
func (e Endpoint) Label() string {
	if e.Hostname != "" {
		return e.Hostname
	}
	return dashed(e.Addr)
}

func dashed(a netip.Addr) string {
	b := []byte(a.StringExpanded())
	if a.Is4() {
		b = []byte(a.String())
	}
	for i, c := range b {
		if c == '.' || c == ':' {
			b[i] = '-'
		}
	}
	return string(b)
}
