package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/bus"
)

// Runtime is what the agent needs of the node's container runtime:
// runtime.Runtime plus the volume and usage helpers of runtime.Containerd.
type Runtime interface {
	runtime.Runtime
	EmptyDir(uid, vol string, medium corev1.StorageMedium, sizeLimit *resource.Quantity) (string, error)
	FilesDir(uid, vol string, files map[string][]byte, mode os.FileMode) (string, error)
	Usage(ctx context.Context) (map[string][]runtime.ContainerUsage, error) // by pod uid
	// OnExit calls exited once when the container's running attempt ends.
	OnExit(ctx context.Context, uid, name string, exited func()) (cancel func(), err error)
}

var _ Runtime = (*runtime.Containerd)(nil)

// Agent is one node's agent.
type Agent struct {
	cfg    Config
	conn   *bus.Conn
	client *bus.Client
	rt     Runtime
	ready  chan struct{}

	mu       sync.Mutex
	workers  map[string]*podWorker // pod uid → its worker
	byKey    map[string]string     // NodePodsBucket key → pod uid
	finished map[string]bool       // uids whose worker finished (finalized or removed)
	wg       sync.WaitGroup

	ipMu sync.Mutex
	ip   string    // detected node IP (nodeIP)
	ipAt time.Time // when it was detected
}

// New makes an agent that reports over conn and runs pods on rt.
func New(conn *bus.Conn, rt Runtime, cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if conn == nil || rt == nil {
		return nil, errors.New("agent: a NATS connection and a runtime are required")
	}
	return &Agent{
		cfg: cfg, conn: conn, rt: rt, ready: make(chan struct{}),
		client:   bus.NewClient(conn, bus.Identity{Source: "gantry/agent/" + cfg.NodeName}),
		workers:  map[string]*podWorker{},
		byKey:    map[string]string{},
		finished: map[string]bool{},
	}, nil
}

// Ready is closed once the node is registered and every pod bound to it
// (and every pod left over from before a restart) has been taken in hand.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run registers the node and runs its pods until ctx ends. Ending leaves
// the pods running: a restarted agent adopts them.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.registerWithRetry(ctx); err != nil {
		return err
	}
	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return a.renewLease(gctx) })
	grp.Go(func() error { return a.watchNode(gctx) })
	grp.Go(func() error { return a.watchPods(gctx) })
	grp.Go(func() error { return a.serve(gctx) })
	grp.Go(func() error { return a.publishMetrics(gctx) })
	err := grp.Wait()
	a.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("agent %s: %w", a.cfg.NodeName, err)
}

// registerWithRetry registers, waiting (up to a minute) for the command
// and query services to answer: in `gantry up` they start alongside.
func (a *Agent) registerWithRetry(ctx context.Context) error {
	var err error
	for i := 0; i < 120; i++ {
		if err = a.register(ctx); err == nil || !errors.Is(err, nats.ErrNoResponders) {
			return err
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return ctx.Err()
		}
	}
	return err
}
