package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/containerd/containerd/v2/client"

	"github.com/containerd/containerd/v2/pkg/cio"
)

// Exec runs a command in a running container and returns its exit code.
// Output is complete when Exec returns (the process is deleted first,
// which waits for the IO copy).
func (r *Containerd) Exec(ctx context.Context, uid, name string, opts ExecOptions) (int, error) {
	ctx = r.withNS(ctx)
	if len(opts.Cmd) == 0 {
		return -1, errors.New("runtime: exec: empty command")
	}
	c, err := r.container(ctx, uid, name)
	if err != nil {
		return -1, err
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("runtime: pod %s container %s: exec: not running: %w", uid, name, err)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return -1, fmt.Errorf("runtime: pod %s container %s: spec: %w", uid, name, err)
	}
	pspec := *spec.Process
	pspec.Args = opts.Cmd
	pspec.Terminal = opts.TTY
	var stdin *stdinCloser
	if opts.Stdin != nil {
		stdin = &stdinCloser{r: opts.Stdin, eof: make(chan struct{})}
	}
	streams := []cio.Opt{cio.WithStreams(stdin.reader(), orDiscard(opts.Stdout), orDiscard(opts.Stderr))}
	if opts.TTY {
		streams = append(streams, cio.WithTerminal)
	}
	proc, err := task.Exec(ctx, execID(), &pspec, cio.NewCreator(streams...))
	if err != nil {
		return -1, fmt.Errorf("runtime: pod %s container %s: exec: %w", uid, name, err)
	}
	defer proc.Delete(context.WithoutCancel(ctx))
	exited, err := proc.Wait(ctx)
	if err != nil {
		return -1, fmt.Errorf("runtime: pod %s container %s: exec wait: %w", uid, name, err)
	}
	if err := proc.Start(ctx); err != nil {
		return -1, fmt.Errorf("runtime: pod %s container %s: exec start: %w", uid, name, err)
	}
	if stdin != nil {
		done := make(chan struct{})
		defer close(done)
		go stdin.closeOnEOF(ctx, proc, done)
	}
	var st client.ExitStatus
	select {
	case st = <-exited:
	case <-ctx.Done():
		killExec(ctx, proc)
		return -1, fmt.Errorf("runtime: pod %s container %s: exec: %w", uid, name, ctx.Err())
	}
	code, _, err := st.Result()
	if err != nil {
		return -1, fmt.Errorf("runtime: pod %s container %s: exec: %w", uid, name, err)
	}
	if _, err := proc.Delete(ctx); err != nil {
		return int(code), fmt.Errorf("runtime: pod %s container %s: exec cleanup: %w", uid, name, err)
	}
	return int(code), nil
}

// killExec SIGKILLs an exec'd process whose caller gave up (a probe's
// timeout, a client gone) and waits for it, so it can be deleted.
func killExec(ctx context.Context, proc client.Process) {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	exited, err := proc.Wait(kctx)
	if err != nil {
		return
	}
	if err := proc.Kill(kctx, syscall.SIGKILL); err != nil {
		return
	}
	select {
	case <-exited:
	case <-kctx.Done():
	}
}

func execID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "exec-" + hex.EncodeToString(b)
}

// orDiscard gives the shim a FIFO to write to: containerd 1.6's shim fails
// an exec whose stdout or stderr path is empty.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// stdinCloser tells the shim to close the process's stdin once the
// caller's reader is exhausted (closing our FIFO end is not enough), as
// ctr does.
type stdinCloser struct {
	r    io.Reader
	eof  chan struct{}
	once sync.Once
}

func (s *stdinCloser) reader() io.Reader {
	if s == nil {
		return nil
	}
	return s
}

func (s *stdinCloser) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil {
		s.once.Do(func() { close(s.eof) })
	}
	return n, err
}

func (s *stdinCloser) closeOnEOF(ctx context.Context, proc client.Process, done <-chan struct{}) {
	select {
	case <-s.eof:
		_ = proc.CloseIO(ctx, client.WithStdinCloser)
	case <-done:
	case <-ctx.Done():
	}
}
