package runtime

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs/pkg/errgrpc"
)

// ContainerStatus reports the latest attempt of a container.
func (r *Containerd) ContainerStatus(ctx context.Context, uid, name string) (ContainerStatus, error) {
	ctx = r.withNS(ctx)
	c, err := r.container(ctx, uid, name)
	if err != nil {
		return ContainerStatus{}, err
	}
	return r.status(ctx, c)
}

// status reads a container's state, finalizing it if its task has exited.
// It reads the labels the handle came with (listed or loaded just before)
// and asks containerd one thing, the task's state; only when the task is
// gone does it read the labels again, in case another caller finalized it
// meanwhile.
func (r *Containerd) status(ctx context.Context, c client.Container) (ContainerStatus, error) {
	info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return ContainerStatus{}, fmt.Errorf("runtime: container %s: %w", c.ID(), err)
	}
	st := fromLabels(c.ID(), info.Image, info.Labels)
	if st.State == StateExited {
		return st, nil
	}
	resp, err := r.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: c.ID()})
	if err = errgrpc.ToNative(err); isNotFound(err) {
		if info, err = c.Info(ctx); err != nil {
			return st, fmt.Errorf("runtime: container %s: %w", c.ID(), err)
		}
		return fromLabels(c.ID(), info.Image, info.Labels), nil // created, never started (or lost its task), or finalized
	}
	if err != nil {
		return st, fmt.Errorf("runtime: container %s: task: %w", c.ID(), err)
	}
	switch resp.GetProcess().GetStatus() {
	case tasktypes.Status_STOPPED:
		task, err := c.Task(ctx, nil)
		if err != nil {
			return st, fmt.Errorf("runtime: container %s: task: %w", c.ID(), err)
		}
		return r.finalize(ctx, c, task)
	case tasktypes.Status_CREATED:
		return st, nil // between create and start
	}
	st.State = StateRunning
	return st, nil
}

// finalize records an exited task's result in labels and deletes the task.
func (r *Containerd) finalize(ctx context.Context, c client.Container, task client.Task) (ContainerStatus, error) {
	r.finalizeMu.Lock()
	defer r.finalizeMu.Unlock()
	info, err := c.Info(ctx)
	if err != nil {
		return ContainerStatus{}, fmt.Errorf("runtime: container %s: %w", c.ID(), err)
	}
	if st := fromLabels(c.ID(), info.Image, info.Labels); st.State == StateExited {
		return st, nil // another caller finalized it
	}
	ts, err := task.Status(ctx)
	if err != nil {
		return ContainerStatus{}, fmt.Errorf("runtime: container %s: task status: %w", c.ID(), err)
	}
	oom := false
	if spec, err := c.Spec(ctx); err == nil && spec.Linux != nil {
		oom = oomKilled(spec.Linux.CgroupsPath)
	}
	code := int(ts.ExitStatus)
	labels := map[string]string{
		labelExitCode:   strconv.Itoa(code),
		labelFinishedAt: ts.ExitTime.UTC().Format(time.RFC3339Nano),
		labelReason:     reason(code, oom),
	}
	if _, err := c.SetLabels(ctx, labels); err != nil {
		return ContainerStatus{}, fmt.Errorf("runtime: container %s: record exit: %w", c.ID(), err)
	}
	if _, err := task.Delete(ctx); err != nil && !isNotFound(err) {
		return ContainerStatus{}, fmt.Errorf("runtime: container %s: delete task: %w", c.ID(), err)
	}
	for k, v := range labels {
		info.Labels[k] = v
	}
	return fromLabels(c.ID(), info.Image, info.Labels), nil
}

func reason(code int, oom bool) string {
	switch {
	case oom:
		return ReasonOOMKilled
	case code == 0:
		return ReasonCompleted
	default:
		return ReasonError
	}
}

func fromLabels(id, image string, l map[string]string) ContainerStatus {
	st := ContainerStatus{Name: l[labelContainer], ID: id, Image: image, Attempt: attemptOf(l), State: StateCreated}
	st.StartedAt, _ = time.Parse(time.RFC3339Nano, l[labelStartedAt])
	if code, ok := l[labelExitCode]; ok {
		st.State = StateExited
		st.ExitCode, _ = strconv.Atoi(code)
		st.Reason = l[labelReason]
		st.FinishedAt, _ = time.Parse(time.RFC3339Nano, l[labelFinishedAt])
	}
	return st
}
