package runtime

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// killTimeout bounds the wait for a SIGKILLed task to be reported exited.
const killTimeout = 30 * time.Second

// StopContainer sends SIGTERM, waits up to grace, then SIGKILLs every
// process of the container, and records the exit.
func (r *Containerd) StopContainer(ctx context.Context, uid, name string, grace time.Duration) error {
	ctx = r.withNS(ctx)
	c, err := r.container(ctx, uid, name)
	if err != nil {
		return err
	}
	task, err := c.Task(ctx, nil)
	if isNotFound(err) {
		return nil // never started or already finalized
	}
	if err != nil {
		return fmt.Errorf("runtime: pod %s container %s: task: %w", uid, name, err)
	}
	if err := stopTask(ctx, task, grace); err != nil {
		return fmt.Errorf("runtime: pod %s container %s: %w", uid, name, err)
	}
	_, err = r.status(ctx, c)
	return err
}

// stopTask is SIGTERM, grace, SIGKILL; it returns once the task has exited.
func stopTask(ctx context.Context, task client.Task, grace time.Duration) error {
	exited, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !isNotFound(err) {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
	case <-ctx.Done():
		return ctx.Err()
	}
	return killAndWait(ctx, task, exited)
}

func killAndWait(ctx context.Context, task client.Task, exited <-chan client.ExitStatus) error {
	if err := task.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !isNotFound(err) {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("task %s still running %s after SIGKILL", task.ID(), killTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// killTask SIGKILLs a container's task, if it has one, and deletes it.
func (r *Containerd) killTask(ctx context.Context, c client.Container) error {
	task, err := c.Task(ctx, nil)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("container %s: task: %w", c.ID(), err)
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("container %s: wait: %w", c.ID(), err)
	}
	if st, err := task.Status(ctx); err == nil && st.Status != client.Stopped {
		if err := killAndWait(ctx, task, exited); err != nil {
			return fmt.Errorf("container %s: %w", c.ID(), err)
		}
	}
	if _, err := task.Delete(ctx); err != nil && !isNotFound(err) {
		return fmt.Errorf("container %s: delete task: %w", c.ID(), err)
	}
	return nil
}

// WaitContainer blocks until the latest attempt of a container has exited
// (or ctx ends) and returns its final status.
func (r *Containerd) WaitContainer(ctx context.Context, uid, name string) (ContainerStatus, error) {
	for {
		exited := make(chan struct{})
		cancel, err := r.OnExit(ctx, uid, name, func() { close(exited) })
		if err != nil {
			return ContainerStatus{}, err
		}
		select {
		case <-exited:
		case <-ctx.Done():
			cancel()
			return ContainerStatus{}, ctx.Err()
		}
		st, err := r.ContainerStatus(ctx, uid, name)
		if err != nil || st.State != StateRunning {
			return st, err
		}
		// still running: the watch ended without an exit (containerd went away); watch again
		select {
		case <-time.After(exitRecheck):
		case <-ctx.Done():
			return ContainerStatus{}, ctx.Err()
		}
	}
}
