package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Sentinel errors.
var (
	// ErrInvalid: a ServicePort that cannot be programmed.
	ErrInvalid = errors.New("proxy: invalid service port")
	// ErrNFTables: the kernel refused a transaction.
	ErrNFTables = errors.New("proxy: nftables")
)

// Protocol is a transport protocol number (6 TCP, 17 UDP).
type Protocol uint8

// Protocols the proxy programs.
const (
	TCP Protocol = 6
	UDP Protocol = 17
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("proto%d", uint8(p))
}

// ServicePort is one port of one service, the unit the proxy programs.
type ServicePort struct {
	Namespace, Name, PortName string
	Protocol                  Protocol
	ClusterIP                 netip.Addr
	Port                      uint16
	// NodePort, when not zero, is opened on the node's addresses.
	NodePort        uint16
	LoadBalancerIPs []netip.Addr
	// AffinityTimeout, when not zero, is ClientIP session affinity.
	AffinityTimeout time.Duration
	// ExternalLocal is externalTrafficPolicy: Local for NodePort and LB
	// traffic: only this node's endpoints, client source kept.
	ExternalLocal bool
	Endpoints     []Endpoint
}

// Endpoint is one backend address and port.
type Endpoint struct {
	IP    netip.Addr
	Port  uint16
	Ready bool
	Node  string
}

// Key names a service port: ns/name/proto/port-name.
func (sp *ServicePort) Key() string {
	return sp.Namespace + "/" + sp.Name + "/" + sp.Protocol.String() + "/" + sp.PortName
}

func (sp *ServicePort) validate() error {
	switch {
	case sp.Protocol != TCP && sp.Protocol != UDP:
		return fmt.Errorf("%w %s: protocol %d not supported", ErrInvalid, sp.Key(), sp.Protocol)
	case !sp.ClusterIP.Is4():
		return fmt.Errorf("%w %s: clusterIP %v is not IPv4", ErrInvalid, sp.Key(), sp.ClusterIP)
	case sp.Port == 0:
		return fmt.Errorf("%w %s: port is 0", ErrInvalid, sp.Key())
	}
	for _, e := range sp.Endpoints {
		if !e.IP.Is4() || e.Port == 0 {
			return fmt.Errorf("%w %s: endpoint %v:%d", ErrInvalid, sp.Key(), e.IP, e.Port)
		}
	}
	return nil
}

// ready returns the ready endpoints, and only this node's if local.
func (sp *ServicePort) ready(node string, local bool) []Endpoint {
	var out []Endpoint
	for _, e := range sp.Endpoints {
		if e.Ready && (!local || e.Node == node) {
			out = append(out, e)
		}
	}
	return out
}

// external reports whether the port takes traffic from outside the
// cluster (a NodePort or load-balancer IPs).
func (sp *ServicePort) external() bool {
	return sp.NodePort != 0 || len(sp.LoadBalancerIPs) > 0
}

// clone copies sp so later changes by the caller do not reach it.
func (sp *ServicePort) clone() *ServicePort {
	c := *sp
	c.LoadBalancerIPs = slices.Clone(sp.LoadBalancerIPs)
	c.Endpoints = slices.Clone(sp.Endpoints)
	return &c
}

// equal reports whether sp and o would program the same thing.
func (sp *ServicePort) equal(o *ServicePort) bool {
	return sp.Namespace == o.Namespace && sp.Name == o.Name && sp.PortName == o.PortName &&
		sp.Protocol == o.Protocol && sp.ClusterIP == o.ClusterIP && sp.Port == o.Port &&
		sp.NodePort == o.NodePort && sp.AffinityTimeout == o.AffinityTimeout && sp.ExternalLocal == o.ExternalLocal &&
		slices.Equal(sp.LoadBalancerIPs, o.LoadBalancerIPs) && slices.Equal(sp.Endpoints, o.Endpoints)
}
