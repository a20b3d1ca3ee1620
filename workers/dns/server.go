package dns

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	mdns "github.com/miekg/dns"
)

// ErrListen classifies a failure to bind the listeners.
var ErrListen = errors.New("dns: listen")

// Server serves a Handler on UDP and TCP on one address.
type Server struct {
	udp, tcp *mdns.Server
	addr     string
}

// Listen binds UDP and TCP on addr ("127.0.0.1:0" picks a port free for
// both) and starts serving h.
func Listen(addr string, h mdns.Handler) (*Server, error) {
	var lastErr error
	for range 10 {
		pc, l, err := bindBoth(addr)
		if err == nil {
			return serve(pc, l, h), nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("%w %s: %w", ErrListen, addr, lastErr)
}

// bindBoth binds UDP, then TCP on the same port.
func bindBoth(addr string) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	port := pc.LocalAddr().(*net.UDPAddr).Port
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, l, nil
}

func serve(pc net.PacketConn, l net.Listener, h mdns.Handler) *Server {
	s := &Server{
		udp:  &mdns.Server{PacketConn: pc, Handler: h},
		tcp:  &mdns.Server{Listener: l, Handler: h},
		addr: pc.LocalAddr().String(),
	}
	udpUp, tcpUp := make(chan struct{}), make(chan struct{})
	s.udp.NotifyStartedFunc = func() { close(udpUp) }
	s.tcp.NotifyStartedFunc = func() { close(tcpUp) }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-udpUp
	<-tcpUp
	return s
}

// Addr is the bound address, the same port for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Shutdown stops both listeners.
func (s *Server) Shutdown() error {
	return errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
}
