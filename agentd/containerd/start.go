package containerd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// start launches an agent-owned containerd and waits until it answers.
func start(ctx context.Context, opts Options, l layout) (*Daemon, error) {
	bin, err := binaries(opts.Binary)
	if err != nil {
		return nil, err
	}
	if err := l.write(opts.DataDir); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(l.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("containerd: open log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", l.config, "--root", l.root, "--state", l.state, "--address", l.socket)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a Ctrl-C to the agent's terminal is the agent's to
	// handle. Pdeathsig stops the daemon if the agent dies without Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("containerd: start %s: %w", bin, err)
	}
	d := &Daemon{Address: l.socket, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	if err := d.waitReady(ctx, opts.StartTimeout, l.log); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// binaries checks containerd, its runc shim and runc are installed.
func binaries(containerdBin string) (string, error) {
	if containerdBin == "" {
		containerdBin = "containerd"
	}
	bin, err := lookBinary(containerdBin)
	if err != nil {
		return "", err
	}
	for _, name := range []string{"containerd-shim-runc-v2", "runc"} {
		if _, err := lookBinary(name); err != nil {
			return "", err
		}
	}
	return bin, nil
}

// waitReady polls the socket until the daemon answers, exits or times out.
func (d *Daemon) waitReady(ctx context.Context, timeout time.Duration, logPath string) error {
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return fmt.Errorf("containerd: exited during start: %s", logTail(logPath))
		case <-ctx.Done():
			return fmt.Errorf("containerd: start: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if c, err := probe(ctx, d.Address, time.Second); err == nil {
			d.Client = c
			return nil
		}
	}
	return fmt.Errorf("containerd: not answering at %s after %s: %s", d.Address, timeout, logTail(logPath))
}

// logTail returns the last lines of the daemon log for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
