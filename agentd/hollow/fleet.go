package hollow

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/bus"
)

// ExitCodeAnnotation on a pod that runs to completion makes the hollow
// node report it Failed with that exit code instead of Succeeded.
const ExitCodeAnnotation = "hollow.gantry.sh/exit-code"

// Options describe the hollow nodes of a fleet.
type Options struct {
	Labels map[string]string
	Taints []corev1.Taint
	CPU    string // allocatable cpu; default "32"
	Memory string // allocatable memory; default "128Gi"
	Pods   int    // allocatable pods; default 110
	// StartDelay is how long a bound pod takes to be reported running.
	StartDelay time.Duration
	// RunFor is how long a pod that runs to completion runs; default 1s.
	RunFor time.Duration
	// LeaseEvery is the lease renewal period; default 2s.
	LeaseEvery time.Duration
	// Parallel bounds the commands in flight for the whole fleet; default 256.
	Parallel int
}

func (o *Options) defaults() {
	if o.CPU == "" {
		o.CPU = "32"
	}
	if o.Memory == "" {
		o.Memory = "128Gi"
	}
	if o.Pods == 0 {
		o.Pods = 110
	}
	if o.RunFor == 0 {
		o.RunFor = time.Second
	}
	if o.LeaseEvery == 0 {
		o.LeaseEvery = 2 * time.Second
	}
	if o.Parallel == 0 {
		o.Parallel = 256
	}
}

// Fleet is a set of hollow nodes sharing one connection.
type Fleet struct {
	conn   *bus.Conn
	client *bus.Client
	leases jetstream.KeyValue
	pods   jetstream.KeyValue // looked up once for every node's tail
	sem    chan struct{}
	opt    Options

	mu    sync.Mutex
	nodes map[string]*Node
	next  int
}

// NewFleet binds a fleet to the cluster on conn.
func NewFleet(ctx context.Context, conn *bus.Conn, opt Options) (*Fleet, error) {
	opt.defaults()
	leases, err := conn.JS.KeyValue(ctx, bus.LeaseBucket)
	if err != nil {
		return nil, fmt.Errorf("hollow: bucket %s: %w", bus.LeaseBucket, err)
	}
	pods, err := conn.JS.KeyValue(ctx, bus.NodePodsBucket)
	if err != nil {
		return nil, fmt.Errorf("hollow: bucket %s: %w", bus.NodePodsBucket, err)
	}
	return &Fleet{
		conn: conn, leases: leases, pods: pods, opt: opt,
		client: bus.NewClient(conn, bus.Identity{Source: "gantry/hollow"}),
		sem:    make(chan struct{}, opt.Parallel), nodes: map[string]*Node{},
	}, nil
}

// Start registers n nodes named <prefix>-<i> (i from the fleet's count on)
// and starts them; it returns once every node is registered and watching.
func (f *Fleet) Start(ctx context.Context, prefix string, n int) ([]*Node, error) {
	nodes := make([]*Node, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		f.mu.Lock()
		idx := f.next
		f.next++
		f.mu.Unlock()
		name := fmt.Sprintf("%s-%d", prefix, idx)
		g.Go(func() error {
			node, err := f.StartNode(gctx, name, idx, f.opt)
			nodes[i] = node
			return err
		})
	}
	return nodes, g.Wait()
}

// StartNode registers and starts one node with its own options; index
// picks its pod IP range.
func (f *Fleet) StartNode(ctx context.Context, name string, index int, opt Options) (*Node, error) {
	opt.defaults()
	n := newNode(f, name, index, opt)
	if err := n.register(ctx); err != nil {
		return nil, err
	}
	if err := n.renew(ctx); err != nil {
		return nil, err
	}
	if err := n.start(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.nodes[name] = n
	f.mu.Unlock()
	return n, nil
}

// Node returns a running node by name, or nil.
func (f *Fleet) Node(name string) *Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes[name]
}

// Nodes lists the fleet's nodes.
func (f *Fleet) Nodes() []*Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*Node, 0, len(f.nodes))
	for _, n := range f.nodes {
		out = append(out, n)
	}
	return out
}

// Stop stops every node.
func (f *Fleet) Stop() {
	for _, n := range f.Nodes() {
		n.Stop()
	}
}

// send runs one command within the fleet's bound on commands in flight.
func (f *Fleet) send(ctx context.Context, kind, verb string, cmd any, meta bus.CommandMeta) error {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-f.sem }()
	_, err := f.client.Do(ctx, kind, verb, cmd, meta)
	return err
}
