package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/seal"
	"github.com/gantry-sh/gantry/aggregates/service"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/dashboard"
	"github.com/gantry-sh/gantry/schemas"
)

type upOptions struct {
	data      string
	listen    string
	nats      string
	metrics   string
	dashboard string
	agent     bool
	// serviceCIDR and lbPool feed the command service's allocator
	// (service.AllocConfig); serviceCIDR also tells the proxy which
	// addresses are virtual.
	serviceCIDR string
	lbPool      []string
	network     networkOptions // DNS and ingress addresses
	// leaderElect: run the scheduler and the controllers only while this
	// process leads the control planes sharing the bus (--nats).
	leaderElect bool
	leaderLease time.Duration
}

func upCmd(g *globals) *cobra.Command {
	o := upOptions{}
	c := &cobra.Command{
		Use:   "up",
		Short: "Run a Gantry cluster on this machine: embedded JetStream, command service, projections and query API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return up(ctx, g, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.data, "data", filepath.Join(gantryHome(), "data"), "data directory (JetStream store, secret key)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:4222", "address of the embedded NATS server")
	f.StringVar(&o.nats, "nats", "", "use this existing NATS server instead of an embedded one")
	f.StringVar(&o.metrics, "metrics", "127.0.0.1:9464", "address for /metrics and /readyz")
	f.StringVar(&o.dashboard, "dashboard", "127.0.0.1:8081", `address of the web dashboard ("" turns it off; the ingress has 8080)`)
	f.BoolVar(&o.agent, "agent", true, "run a node agent for this machine (needs root; starts containerd if none answers)")
	f.StringVar(&o.serviceCIDR, "service-cidr", "10.96.0.0/12", "where ClusterIPs are allocated from (and what the service proxy treats as virtual)")
	f.StringSliceVar(&o.lbPool, "lb-pool", nil, "CIDRs (or addresses) LoadBalancer services get their external IP from; empty: they stay <pending>")
	f.BoolVar(&o.leaderElect, "leader-elect", true, "run the scheduler and the controllers only while this control plane leads the ones sharing the NATS server (--nats)")
	f.DurationVar(&o.leaderLease, "leader-lease", 15*time.Second, "how long a leader that stopped renewing keeps the role before another takes it (a clean stop lets it go at once)")
	o.network.addFlags(c)
	return c
}

// gcPercent is gantry up's GOGC unless the environment sets one.
//
// The control plane's heap is mostly long-lived: the projection's objects
// and the NATS server's subject indexes. Each command also makes
// short-lived garbage of the same sizes (the object's JSON, its event, the
// reply, the state bucket's value), allocated among the long-lived
// objects, and a span that keeps one long-lived object stays in use after
// the garbage around it is collected. So resident memory is the live heap
// plus a share of the garbage allowed between collections. With the
// default (100: as much garbage as live heap) such partly used spans were
// a third of the heap (BenchmarkMemory/plane, 100,000 objects: heap in use
// 1033 B/object above the live objects at GOGC 100, 613 at 50, 369 at 25).
// 50 costs about 15% more CPU per command while commands arrive (there,
// 341 → 389 µs of CPU per create) and nothing while idle; 25 cost another
// 15%.
const gcPercent = 50

// tuneGC sets gcPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set { // as agent.TuneProcessGC and projections' catch-up
		debug.SetGCPercent(gcPercent)
	}
}

// up wires the control plane and runs it until ctx ends.
func up(ctx context.Context, g *globals, o upOptions) error {
	tuneGC()
	alloc, err := o.alloc()
	if err != nil {
		return err
	}
	o.network.serviceCIDR = alloc.ServiceCIDR
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return err
	}
	ns, url, err := startNATS(o)
	if err != nil {
		return err
	}
	// Commands and queries, request and reply, go through the pipe of an
	// in-process connection, which answers sooner; the projector, which
	// reads the stream in bulk and writes the state bucket, costs less
	// over loopback TCP (bus.ConnectLocal).
	var conn, projConn *bus.Conn
	if ns != nil {
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		conn, err = bus.ConnectInProcess(ns, "gantry-up")
		if err == nil {
			projConn, err = bus.ConnectLocal(ns, "gantry-up-projector")
		}
	} else {
		conn, err = bus.Connect(url, "gantry-up")
		if err == nil {
			projConn, err = bus.Connect(url, "gantry-up-projector")
		}
	}
	defer conn.Close()
	defer projConn.Close()
	if err != nil {
		return err
	}
	if err := conn.Bootstrap(ctx); err != nil {
		return err
	}
	key, err := seal.KeyFile(filepath.Join(o.data, "secret.key"))
	if err != nil {
		return err
	}
	sealer, err := seal.New(key, rand.Reader)
	if err != nil {
		return err
	}
	validator, err := schemas.NewValidator()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc, err := service.New(ctx, conn, service.Options{Kinds: g.kinds, Sealer: sealer, Validator: validator, Metrics: service.NewMetrics(reg), Alloc: alloc})
	if err != nil {
		return err
	}
	view := projections.NewView(sealer)
	proj, err := projections.NewProjector(ctx, projConn, view, sealer)
	if err != nil {
		return err
	}
	registerLag(reg, proj, view)
	queries := projections.NewQueries(view, proj.Store(), g.kinds, sealer)

	// Workers start on the whole current state, never on a half-replayed
	// one: catch up first, then start them, then follow.
	if err := proj.CatchUp(ctx); err != nil {
		return err
	}
	grp, ctx := errgroup.WithContext(ctx)
	cp := controlPlane{conn: conn, view: view, kinds: g.kinds, reg: reg, data: o.data, out: g.out, localAgent: o.agent, network: o.network,
		leaderMetrics: newLeaderMetrics(reg)}
	if o.leaderElect {
		if cp.election, err = o.election(g.out, reg); err != nil {
			return err
		}
	}
	if err := startWorkers(ctx, grp, cp); err != nil { // before the projector follows: workers see every change
		return err
	}
	ready := make(chan struct{})
	grp.Go(func() error { return svc.Run(ctx) })
	grp.Go(func() error { return queries.Serve(ctx, conn) })
	grp.Go(func() error { return projections.NewUsage().Serve(ctx, conn) })
	grp.Go(func() error { return proj.Run(ctx) })
	grp.Go(func() error { return serveMetrics(ctx, o.metrics, reg, ready) })
	grp.Go(func() error {
		return dashboard.Serve(ctx, o.dashboard, dashboard.Options{View: view, Store: proj.Store(), Kinds: g.kinds, Sealer: sealer})
	})
	grp.Go(func() error {
		if err := ensureDefaultNamespace(ctx, conn); err != nil {
			return err
		}
		if err := saveConfig(g.config, Config{Server: url, Metrics: o.metrics}); err != nil {
			return err
		}
		close(ready)
		fmt.Fprintf(g.out, "gantry is up: NATS %s, data %s, metrics http://%s/metrics\nclient config: %s\n", url, o.data, o.metrics, g.config)
		if o.dashboard != "" {
			fmt.Fprintf(g.out, "dashboard: http://%s/\n", o.dashboard)
		}
		return nil
	})
	err = grp.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	fmt.Fprintln(g.out, "gantry stopped")
	return err
}

// election is how this control plane stands for the lead: as this host,
// data directory and process, so that two control planes never share an
// identity (even on one host with one data directory, which would let
// both lead); one restarted after a crash waits out its old lease, one
// stopped cleanly has let the role go. It says who leads, and exports
// gantry_leader{role} (1 while leading).
func (o upOptions) election(out io.Writer, reg prometheus.Registerer) (*election, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	data, err := filepath.Abs(o.data)
	if err != nil {
		return nil, err
	}
	me := fmt.Sprintf("%s:%s:%d", host, data, os.Getpid())
	leading := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gantry_leader", Help: "1 while this control plane leads the role"}, []string{"role"})
	reg.MustRegister(leading)
	leading.WithLabelValues(leaderRole).Set(0)
	observe := func(leader string) {
		switch leader {
		case me:
			leading.WithLabelValues(leaderRole).Set(1)
			fmt.Fprintf(out, "leading the control plane (scheduler, controllers) as %s\n", me)
		case "":
			leading.WithLabelValues(leaderRole).Set(0)
		default:
			leading.WithLabelValues(leaderRole).Set(0)
			fmt.Fprintf(out, "following the control plane led by %s\n", leader)
		}
	}
	return &election{identity: me, opts: bus.ElectOptions{Lease: o.leaderLease, Observe: observe}}, nil
}

// alloc is the allocator's configuration from --service-cidr and
// --lb-pool.
func (o upOptions) alloc() (service.AllocConfig, error) {
	var c service.AllocConfig
	p, err := netip.ParsePrefix(o.serviceCIDR)
	if err != nil {
		return c, fmt.Errorf("--service-cidr %q: %w", o.serviceCIDR, err)
	}
	c.ServiceCIDR = p.Masked()
	for _, s := range o.lbPool {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return c, fmt.Errorf("--lb-pool %q: want a CIDR or an address: %w", s, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.LoadBalancerPool = append(c.LoadBalancerPool, p.Masked())
	}
	return c, nil
}

// startNATS starts the embedded server, unless --nats names one.
func startNATS(o upOptions) (*server.Server, string, error) {
	if o.nats != "" {
		return nil, o.nats, nil
	}
	host, portStr, err := net.SplitHostPort(o.listen)
	if err != nil {
		return nil, "", fmt.Errorf("--listen %q: %w", o.listen, err)
	}
	var port int
	fmt.Sscanf(portStr, "%d", &port)
	if port == 0 {
		port = -1
	}
	ns, err := bus.StartServer(bus.ServerOptions{Host: host, Port: port, StoreDir: filepath.Join(o.data, "jetstream")})
	if err != nil {
		return nil, "", err
	}
	return ns, ns.ClientURL(), nil
}

// ensureDefaultNamespace creates "default" once, as a cluster has it.
func ensureDefaultNamespace(ctx context.Context, conn *bus.Conn) error {
	client := bus.NewClient(conn, bus.Identity{Source: "gantry/up"})
	obj := []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`)
	for attempt := 0; ; attempt++ {
		_, err := client.Do(ctx, "namespace", aggregates.VerbCreate, aggregates.Command{Name: "default", Object: obj}, bus.CommandMeta{Reason: "cluster bootstrap"})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if attempt > 50 || ctx.Err() != nil {
			return fmt.Errorf("create namespace default: %w", err)
		}
		time.Sleep(100 * time.Millisecond) // the command service may still be subscribing
	}
}

func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, ready <-chan struct{}) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-ready:
			fmt.Fprintln(w, "ready")
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics on %s: %w", addr, err)
	}
	return nil
}

func registerLag(reg *prometheus.Registry, proj *projections.Projector, view *projections.View) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gantry_projection_lag_events", Help: "Events stored but not yet folded into the current-state projection.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		head, _, err := proj.Store().Head(ctx)
		if err != nil {
			return -1
		}
		return float64(head) - float64(view.Applied())
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gantry_projection_objects", Help: "Objects held by the current-state projection.",
	}, func() float64 { return float64(view.Len()) }))
}
