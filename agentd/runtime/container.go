package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
)

// StartContainer pulls the image per its policy, creates the container in
// the pod's netns and starts it, its output going to the attempt's log
// file. Earlier attempts of the same container are deleted (their logs stay).
func (r *Containerd) StartContainer(ctx context.Context, uid string, cs ContainerSpec) error {
	ctx = r.withNS(ctx)
	name := cs.Container.Name
	rec, err := r.readRecord(uid)
	if err != nil {
		return err
	}
	img, err := r.ensureImage(ctx, cs.Container.Image, cs.Container.ImagePullPolicy)
	if err != nil { // before clearing: an attempt that ran stays visible while the image cannot be had
		return fmt.Errorf("runtime: pod %s container %s: %w", uid, name, err)
	}
	if err := r.clearAttempts(ctx, uid, name); err != nil {
		return fmt.Errorf("runtime: pod %s container %s: %w", uid, name, err)
	}
	c, err := r.create(ctx, rec, cs, img)
	if err != nil {
		r.forgetUnpacked(img) // its snapshot may have been removed: check again next time
		return fmt.Errorf("runtime: pod %s container %s: %w", uid, name, err)
	}
	if err := r.startTask(ctx, c, r.logPath(uid, name, cs.Attempt)); err != nil {
		_ = r.deleteContainer(context.WithoutCancel(ctx), c)
		return fmt.Errorf("runtime: pod %s container %s: %w", uid, name, err)
	}
	return nil
}

// clearAttempts deletes stopped attempts of a container, and refuses to
// start another while one runs.
func (r *Containerd) clearAttempts(ctx context.Context, uid, name string) error {
	cs, err := r.client.Containers(ctx, containerFilter(uid, name))
	if err != nil {
		return err
	}
	for _, c := range cs {
		if st, err := r.status(ctx, c); err == nil && st.State == StateRunning {
			return ErrAlreadyRunning
		}
		if err := r.deleteContainer(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (r *Containerd) create(ctx context.Context, rec podRecord, cs ContainerSpec, img client.Image) (client.Container, error) {
	opts, err := r.specOpts(ctx, rec, cs, img)
	if err != nil {
		return nil, err
	}
	id := containerID(rec.Spec.UID, cs.Container.Name, cs.Attempt)
	labels := map[string]string{
		labelManaged:      "true",
		labelPodUID:       rec.Spec.UID,
		labelPodName:      rec.Spec.Name,
		labelPodNamespace: rec.Spec.Namespace,
		labelContainer:    cs.Container.Name,
		labelAttempt:      strconv.Itoa(cs.Attempt),
	}
	c, err := r.client.NewContainer(ctx, id,
		client.WithImage(img),
		client.WithSnapshotter(r.snapshotter),
		client.WithNewSnapshot(id, img),
		client.WithContainerLabels(labels),
		client.WithNewSpec(opts...))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", id, err)
	}
	return c, nil
}

func (r *Containerd) startTask(ctx context.Context, c client.Container, logPath string) error {
	task, err := newTask(ctx, c, logPath)
	if err != nil {
		return err
	}
	return start(ctx, c, task)
}

// newTask creates the container's task (runc create: namespaces, mounts,
// cgroup) with its output going to logPath; its process waits for start.
func newTask(ctx context.Context, c client.Container, logPath string) (client.Task, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	task, err := c.NewTask(ctx, cio.LogFile(logPath))
	if err != nil {
		return nil, fmt.Errorf("new task: %w", err)
	}
	return task, nil
}

// start starts a created task's process and records when.
func start(ctx context.Context, c client.Container, task client.Task) error {
	// Taken before Start: a quick process may exit before Start returns,
	// and startedAt must not come after finishedAt.
	startedAt := time.Now().UTC()
	if err := task.Start(ctx); err != nil {
		_, _ = task.Delete(ctx, client.WithProcessKill)
		return fmt.Errorf("start task: %w", err)
	}
	_, err := c.SetLabels(ctx, map[string]string{labelStartedAt: startedAt.Format(time.RFC3339Nano)})
	return err
}

// latestContainers returns, per container name, the highest attempt.
func (r *Containerd) latestContainers(ctx context.Context, uid string) ([]client.Container, error) {
	ctx = r.withNS(ctx)
	cs, err := r.client.Containers(ctx, podFilter(uid))
	if err != nil {
		return nil, fmt.Errorf("runtime: pod %s: list containers: %w", uid, err)
	}
	latest := map[string]client.Container{}
	attempt := map[string]int{}
	for _, c := range cs {
		info, err := c.Info(ctx, client.WithoutRefreshedMetadata) // as listed: no round trip
		if err != nil {
			continue
		}
		l := info.Labels
		n, a := l[labelContainer], attemptOf(l)
		if _, ok := latest[n]; !ok || a > attempt[n] {
			latest[n], attempt[n] = c, a
		}
	}
	out := make([]client.Container, 0, len(latest))
	for _, c := range latest {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out, nil
}

// container finds the latest attempt of a named container in a pod.
func (r *Containerd) container(ctx context.Context, uid, name string) (client.Container, error) {
	cs, err := r.client.Containers(ctx, containerFilter(uid, name))
	if err != nil {
		return nil, fmt.Errorf("runtime: pod %s container %s: %w", uid, name, err)
	}
	var best client.Container
	bestAttempt := -1
	for _, c := range cs {
		info, err := c.Info(ctx, client.WithoutRefreshedMetadata) // as listed: no round trip
		if err == nil && attemptOf(info.Labels) > bestAttempt {
			best, bestAttempt = c, attemptOf(info.Labels)
		}
	}
	if best == nil {
		return nil, fmt.Errorf("runtime: pod %s container %s: %w", uid, name, ErrNotFound)
	}
	return best, nil
}

func isNotFound(err error) bool { return errdefs.IsNotFound(err) || errors.Is(err, ErrNotFound) }
