package dns

import (
	"net"
	"strings"

	mdns "github.com/miekg/dns"
)

// Handler answers DNS queries from a View, forwarding names outside the
// cluster zone.
type Handler struct {
	view View
	cfg  Config
	fwd  *forwarder
}

var _ mdns.Handler = (*Handler)(nil)

// NewHandler returns a Handler answering from view.
func NewHandler(view View, cfg Config) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Handler{view: view, cfg: cfg, fwd: newForwarder(cfg)}, nil
}

// ServeDNS implements mdns.Handler.
func (h *Handler) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	m := h.respond(r)
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		m.Truncate(udpSize(r))
	}
	_ = w.WriteMsg(m)
}

// respond builds the reply to r.
func (h *Handler) respond(r *mdns.Msg) *mdns.Msg {
	if len(r.Question) != 1 || r.Opcode != mdns.OpcodeQuery {
		return new(mdns.Msg).SetRcode(r, mdns.RcodeFormatError)
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if mdns.IsSubDomain(h.cfg.Zone, name) {
		return h.reply(r, h.resolveZone(name, q.Qtype))
	}
	if ans, ok := h.resolveReverse(name, q.Qtype); ok {
		return h.reply(r, ans)
	}
	return h.fwd.forward(r)
}

// reply turns an answer into a message for r.
func (h *Handler) reply(r *mdns.Msg, a answer) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetRcode(r, a.rcode)
	m.Authoritative = true
	m.Compress = true
	m.Answer, m.Extra = a.rrs, a.extra
	if len(a.rrs) == 0 {
		m.Ns = []mdns.RR{h.soa()}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	return m
}

func udpSize(r *mdns.Msg) int {
	if opt := r.IsEdns0(); opt != nil && opt.UDPSize() > mdns.MinMsgSize {
		return int(opt.UDPSize())
	}
	return mdns.MinMsgSize
}
