package runtime

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/gantry-sh/gantry/agentd/cni"
)

// Options configure a Containerd runtime.
type Options struct {
	Client *client.Client
	// Namespace is the containerd namespace this agent owns (e.g. "gantry-node1").
	Namespace string
	// DataDir holds pod records, volumes and logs.
	DataDir string
	Network *cni.Network
	// Snapshotter defaults to "overlayfs".
	Snapshotter string
}

// Containerd is the Runtime on containerd + runc + CNI.
type Containerd struct {
	client      *client.Client
	ns          string
	dataDir     string
	net         *cni.Network
	snapshotter string
	finalizeMu  sync.Mutex // one finalizer at a time per runtime
	unpacked    sync.Map   // image digest → true: found unpacked (unpack)
	cgroups     sync.Map   // container id → its cgroups path (Usage)
	exits       exitWatch  // one /tasks/exit subscription for every OnExit
}

var _ Runtime = (*Containerd)(nil)

// New returns a runtime; it adopts whatever an earlier one left in DataDir
// and the namespace.
func New(opts Options) (*Containerd, error) {
	if opts.Client == nil || opts.Namespace == "" || opts.DataDir == "" || opts.Network == nil {
		return nil, errors.New("runtime: Client, Namespace, DataDir and Network are required")
	}
	if opts.Snapshotter == "" {
		opts.Snapshotter = "overlayfs"
	}
	return &Containerd{
		client:      opts.Client,
		ns:          opts.Namespace,
		dataDir:     opts.DataDir,
		net:         opts.Network,
		snapshotter: opts.Snapshotter,
	}, nil
}

// newResolver pulls over HTTPS, and over plain HTTP from loopback registries.
func newResolver() remotes.Resolver {
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchLocalhost)),
	})
}

func (r *Containerd) withNS(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.ns)
}

func (r *Containerd) podDir(uid string) string {
	return filepath.Join(r.dataDir, "pods", uid)
}

func (r *Containerd) logPath(uid, name string, attempt int) string {
	return filepath.Join(r.podDir(uid), "logs", name, fmt.Sprintf("%d.log", attempt))
}
