package ingress

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// Source is the command source of the router.
const Source = "gantry/ingress"

// View is what the worker reads.
type View interface {
	List(kind, namespace string) []projections.Entry
	OnChange(func(projections.Change))
}

// Sender sends commands (bus.Client).
type Sender interface {
	Do(ctx context.Context, kind, verb string, data any, meta bus.CommandMeta) (bus.Reply, error)
}

// Options configure the worker.
type Options struct {
	HTTPAddr, HTTPSAddr string // empty: not served
	// CaughtUp blocks until the view holds the stream as it was at start.
	CaughtUp func(context.Context) error
	// Ready, if set, gets the bound HTTP and HTTPS addresses.
	Ready func(httpAddr, httpsAddr string)
	// Sender and StatusAddress, if both set, publish the router's address
	// in the status of the ingresses it serves.
	Sender        Sender
	StatusAddress string
	Log           *slog.Logger
}

// Worker keeps a Router's table in step with a view and serves it.
type Worker struct {
	view   View
	opt    Options
	router *Router
	wake   chan struct{}
}

// NewWorker subscribes to view; call it before view starts folding.
func NewWorker(view View, opt Options) *Worker {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	w := &Worker{view: view, opt: opt, router: NewRouter(), wake: make(chan struct{}, 1)}
	view.OnChange(func(c projections.Change) {
		switch c.Kind {
		case "ingress", "service", "endpointslice", "secret":
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	})
	return w
}

// Router is the worker's router.
func (w *Worker) Router() *Router { return w.router }

// Run builds the table, serves, and rebuilds on every change until ctx
// ends; then stops accepting and lets requests in flight finish.
func (w *Worker) Run(ctx context.Context) error {
	if w.opt.CaughtUp != nil {
		if err := w.opt.CaughtUp(ctx); err != nil {
			return fmt.Errorf("ingress: catch up: %w", err)
		}
	}
	w.reload(ctx)
	servers, addrs, err := w.listen()
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(sctx)
		}
		w.router.Transport.CloseIdleConnections()
	}()
	if w.opt.Ready != nil {
		w.opt.Ready(addrs[0], addrs[1])
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
			w.reload(ctx)
		}
	}
}

func (w *Worker) listen() ([]*http.Server, [2]string, error) {
	var servers []*http.Server
	var addrs [2]string
	for i, addr := range []string{w.opt.HTTPAddr, w.opt.HTTPSAddr} {
		if addr == "" {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, s := range servers {
				_ = s.Close()
			}
			return nil, addrs, fmt.Errorf("ingress: listen %s: %w", addr, err)
		}
		srv := &http.Server{Handler: w.router, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		if i == 1 {
			srv.TLSConfig = &tls.Config{GetCertificate: w.getCertificate, MinVersion: tls.VersionTLS12}
			l = tls.NewListener(l, srv.TLSConfig)
		}
		servers, addrs[i] = append(servers, srv), l.Addr().String()
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				w.opt.Log.Error("ingress: serve", "addr", addr, "err", err)
			}
		}()
	}
	return servers, addrs, nil
}

func (w *Worker) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := w.router.Table().certificate(hello.ServerName); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("ingress: no certificate for %q", hello.ServerName)
}

// reload rebuilds the table from the view and swaps it in.
func (w *Worker) reload(ctx context.Context) {
	o := Objects{Services: map[string]*corev1.Service{}, Slices: map[string][]*discoveryv1.EndpointSlice{}, Secrets: map[string]*corev1.Secret{}}
	for _, e := range w.view.List("ingress", "") {
		if ing := decode[networkingv1.Ingress](e.Raw); ing != nil {
			o.Ingresses = append(o.Ingresses, ing)
		}
	}
	for _, e := range w.view.List("service", "") {
		if svc := decode[corev1.Service](e.Raw); svc != nil {
			o.Services[e.Namespace+"/"+e.Name] = svc
		}
	}
	for _, e := range w.view.List("endpointslice", "") {
		if es := decode[discoveryv1.EndpointSlice](e.Raw); es != nil {
			k := e.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]
			o.Slices[k] = append(o.Slices[k], es)
		}
	}
	for _, e := range w.view.List("secret", "") {
		if sec := decode[corev1.Secret](e.Raw); sec != nil && sec.Type == corev1.SecretTypeTLS {
			o.Secrets[e.Namespace+"/"+e.Name] = sec
		}
	}
	t := Build(o)
	w.router.Swap(t)
	w.publishStatus(ctx, o.Ingresses)
}

// publishStatus sets the router's address on each served ingress whose
// status says otherwise.
func (w *Worker) publishStatus(ctx context.Context, ings []*networkingv1.Ingress) {
	if w.opt.Sender == nil || w.opt.StatusAddress == "" {
		return
	}
	want := networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
		Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: w.opt.StatusAddress}}}}
	for _, ing := range ings {
		if !Serves(ing) || reflect.DeepEqual(ing.Status, want) {
			continue
		}
		raw, _ := json.Marshal(want)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := w.opt.Sender.Do(cctx, "ingress", aggregates.VerbStatus,
			aggregates.Command{Namespace: ing.Namespace, Name: ing.Name, Status: raw}, bus.CommandMeta{Reason: "served by the gantry ingress router"})
		cancel()
		if err != nil {
			w.opt.Log.Warn("ingress: status", "ingress", ing.Namespace+"/"+ing.Name, "err", err)
		}
	}
}
