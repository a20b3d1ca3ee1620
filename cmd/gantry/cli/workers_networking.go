package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/workers/controllers/endpoints"
	"github.com/gantry-sh/gantry/workers/dns"
	"github.com/gantry-sh/gantry/workers/ingress"
	"github.com/gantry-sh/gantry/workers/proxy"
)

// Networking of `gantry up`. The defaults give a newcomer without root
// DNS and ingress on loopback ports; the flags (networkOptions.addFlags)
// move them. The proxy is still set by the environment:
//
//	GANTRY_PROXY          "on" (default when running as root) or "off"
//	GANTRY_NODE_NAME      default the host name; GANTRY_NODE_IPS comma list for NodePorts
const (
	defaultDNSAddr      = "127.0.0.1:10053"
	defaultIngressHTTP  = "127.0.0.1:8080"
	defaultIngressHTTPS = "127.0.0.1:8443"
)

// networkOptions are the networking flags of `gantry up`.
type networkOptions struct {
	dns                       []string
	ingressHTTP, ingressHTTPS string
	serviceCIDR               netip.Prefix // from --service-cidr (up.go)
}

func (n *networkOptions) addFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringSliceVar(&n.dns, "dns", []string{defaultDNSAddr}, `addresses of the cluster DNS, udp+tcp (add 10.96.0.10:53 on a node whose agent routes it; "off" turns it off)`)
	f.StringVar(&n.ingressHTTP, "ingress-http", defaultIngressHTTP, `address of the ingress router's HTTP listener ("off" turns it off)`)
	f.StringVar(&n.ingressHTTPS, "ingress-https", defaultIngressHTTPS, `address of the ingress router's HTTPS listener ("off" turns it off)`)
}

// startEndpoints starts the endpoints controller (a leader's worker).
func startEndpoints(ctx context.Context, grp *errgroup.Group, cp controlPlane) error {
	ctl := endpoints.New(cp.view, cp.client(endpoints.Source), endpoints.Options{CaughtUp: caughtUpFunc(cp)})
	grp.Go(func() error { return ctl.Run(ctx) })
	return nil
}

// startNetworking starts this machine's proxy, DNS and ingress in `gantry up`.
func startNetworking(ctx context.Context, grp *errgroup.Group, cp controlPlane) error {
	caughtUp := caughtUpFunc(cp)

	if dnsAddrs := offToNil(cp.network.dns); len(dnsAddrs) > 0 {
		if cp.nodeDNS != "" { // pods' resolv.conf names it (prepareNodeBridge)
			dnsAddrs = append(dnsAddrs, net.JoinHostPort(cp.nodeDNS, "53"))
		}
		dnsW, err := dns.NewWorker(cp.view, dns.Config{}, dns.WorkerOptions{
			Addrs: dnsAddrs, CaughtUp: caughtUp,
			Ready: func(a []string) { fmt.Fprintf(cp.out, "cluster DNS on %s (udp+tcp)\n", strings.Join(a, ", ")) },
		})
		if err != nil {
			return err
		}
		grp.Go(func() error { return dnsW.Run(ctx) })
	}

	httpAddr, httpsAddr := offToEmpty(cp.network.ingressHTTP), offToEmpty(cp.network.ingressHTTPS)
	if httpAddr != "" || httpsAddr != "" {
		ing := ingress.NewWorker(cp.view, ingress.Options{
			HTTPAddr: httpAddr, HTTPSAddr: httpsAddr, CaughtUp: caughtUp,
			Sender: cp.client(ingress.Source), StatusAddress: "127.0.0.1",
			Ready: func(h, s string) { fmt.Fprintf(cp.out, "ingress on http://%s https://%s\n", h, s) },
		})
		grp.Go(func() error { return ing.Run(ctx) })
	}
	return startProxy(ctx, grp, cp, caughtUp)
}

// startProxy programs nftables on this machine when allowed: root and
// GANTRY_PROXY not "off". Without root the rest of networking still runs.
func startProxy(ctx context.Context, grp *errgroup.Group, cp controlPlane, caughtUp func(context.Context) error) error {
	mode := envOr("GANTRY_PROXY", "on")
	if mode == "off" {
		return nil
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(cp.out, "service proxy off: programming nftables needs root (GANTRY_PROXY=off silences this)")
		return nil
	}
	host, _ := os.Hostname()
	cfg := proxy.Config{NodeName: envOr("GANTRY_NODE_NAME", host), ServiceCIDR: cp.network.serviceCIDR}
	for _, s := range commaList(os.Getenv("GANTRY_NODE_IPS")) {
		if a, err := netip.ParseAddr(s); err == nil {
			cfg.NodeIPs = append(cfg.NodeIPs, a)
		}
	}
	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	loop := proxy.NewLoop(cp.view, p, proxy.LoopOptions{CaughtUp: caughtUp, CleanupOnExit: true, Log: slog.Default()})
	grp.Go(func() error { return loop.Run(ctx) })
	return nil
}

// caughtUpFunc waits until the view has folded the stream's head as it is
// when called.
func caughtUpFunc(cp controlPlane) func(context.Context) error {
	return func(ctx context.Context) error {
		store, err := bus.NewStore(ctx, cp.conn)
		if err != nil {
			return err
		}
		head, _, err := store.Head(ctx)
		if err != nil {
			return err
		}
		return cp.view.WaitFor(ctx, head)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func offToEmpty(s string) string {
	if s == "off" {
		return ""
	}
	return s
}

// offToNil drops empty entries; a list holding "off" is empty.
func offToNil(list []string) []string {
	var out []string
	for _, s := range list {
		switch s = strings.TrimSpace(s); s {
		case "off":
			return nil
		case "":
		default:
			out = append(out, s)
		}
	}
	return out
}

func commaList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
