package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// Options says where containerd answers and where an own daemon keeps files.
type Options struct {
	// Address is the containerd socket. Empty means DataDir/containerd.sock.
	Address string
	// DataDir holds root, state, config and log of an agent-owned daemon.
	DataDir string
	// Binary is the containerd executable; empty means "containerd" in PATH.
	Binary string
	// StartTimeout bounds how long Ensure waits for an own daemon (default 30s).
	StartTimeout time.Duration
}

// Daemon is a containerd the agent talks to, owned by it or not.
type Daemon struct {
	Address string
	Client  *client.Client
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Owned reports whether Ensure started this daemon (and Close will stop it).
func (d *Daemon) Owned() bool { return d.cmd != nil }

// PID is the daemon's process id, or 0 when the daemon is not owned.
func (d *Daemon) PID() int {
	if d.cmd == nil {
		return 0
	}
	return d.cmd.Process.Pid
}

// Ensure connects to the containerd at opts.Address or starts one.
func Ensure(ctx context.Context, opts Options) (*Daemon, error) {
	if opts.DataDir == "" && opts.Address == "" {
		return nil, errors.New("containerd: need Address or DataDir")
	}
	l := newLayout(opts.DataDir, opts.Address)
	if c, err := probe(ctx, l.socket, 2*time.Second); err == nil {
		return &Daemon{Address: l.socket, Client: c}, nil
	}
	if opts.DataDir == "" {
		return nil, fmt.Errorf("containerd: nothing answers at %s and no DataDir to start one", l.socket)
	}
	return start(ctx, opts, l)
}

// probe connects and asks the daemon its version within timeout.
func probe(ctx context.Context, address string, timeout time.Duration) (*client.Client, error) {
	if _, err := os.Stat(address); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := client.New(address, client.WithTimeout(timeout))
	if err != nil {
		return nil, err
	}
	if _, err := c.Version(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the client and, for an owned daemon, stops it by PID:
// SIGTERM, then SIGKILL after 10 seconds. Running shims (and so containers)
// survive, as they do when a system containerd restarts.
func (d *Daemon) Close() error {
	if d.Client != nil {
		d.Client.Close()
	}
	if d.cmd == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	if err := d.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("containerd: kill pid %d: %w", d.cmd.Process.Pid, err)
	}
	<-d.exited
	return nil
}
