package dns

import (
	mdns "github.com/miekg/dns"
)

// forwarder sends names outside the zone to the upstreams in order.
type forwarder struct {
	upstreams []string
	udp, tcp  *mdns.Client
}

func newForwarder(cfg Config) *forwarder {
	return &forwarder{
		upstreams: cfg.Upstreams,
		udp:       &mdns.Client{Net: "udp", Timeout: cfg.ForwardTimeout},
		tcp:       &mdns.Client{Net: "tcp", Timeout: cfg.ForwardTimeout},
	}
}

// forward returns the first upstream's reply; REFUSED without upstreams,
// SERVFAIL when all fail.
func (f *forwarder) forward(r *mdns.Msg) *mdns.Msg {
	if len(f.upstreams) == 0 {
		return new(mdns.Msg).SetRcode(r, mdns.RcodeRefused)
	}
	for _, up := range f.upstreams {
		if m, err := f.exchange(r, up); err == nil {
			m.Id = r.Id
			return m
		}
	}
	return new(mdns.Msg).SetRcode(r, mdns.RcodeServerFailure)
}

func (f *forwarder) exchange(r *mdns.Msg, upstream string) (*mdns.Msg, error) {
	m, _, err := f.udp.Exchange(r, upstream)
	if err == nil && m.Truncated {
		m, _, err = f.tcp.Exchange(r, upstream)
	}
	return m, err
}
