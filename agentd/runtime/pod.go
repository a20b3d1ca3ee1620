package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/containerd/containerd/v2/client"
	"github.com/gantry-sh/gantry/agentd/cni"
)

// RunPod creates the pod's netns, attaches it to the pod network (CNI
// ADD) and writes its /etc files and record. The containers in start are
// created (image, snapshot, runc create) while the network is attached,
// and their processes started once it is, so a pod's first containers do
// not wait for the network to begin; one that cannot be created or started
// there is removed and left to StartContainer. Running an existing pod
// returns it and starts nothing.
func (r *Containerd) RunPod(ctx context.Context, pod PodSpec, start ...ContainerSpec) (PodInfo, error) {
	if pod.UID == "" {
		return PodInfo{}, errors.New("runtime: pod without uid")
	}
	if pod.Hostname == "" {
		pod.Hostname = pod.Name
	}
	if rec, err := r.readRecord(pod.UID); err == nil {
		return r.podInfo(ctx, rec)
	}
	rec, err := r.sandbox(ctx, pod, start)
	if err != nil {
		_ = r.RemovePod(context.WithoutCancel(ctx), pod.UID)
		return PodInfo{}, fmt.Errorf("runtime: pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return PodInfo{UID: pod.UID, Name: pod.Name, Namespace: pod.Namespace, IP: rec.IP, Netns: rec.Netns}, nil
}

// sandbox sets a new pod up: the netns and /etc files (hosts without the
// pod's IP) first, then the network attachment beside the creation of the
// first containers; hosts gets the IP, the record is written, the
// containers start.
func (r *Containerd) sandbox(ctx context.Context, pod PodSpec, first []ContainerSpec) (podRecord, error) {
	ctx = r.withNS(ctx)
	netns, err := r.net.CreateNetns(pod.UID)
	if err != nil {
		return podRecord{}, fmt.Errorf("network: %w", err)
	}
	rec := podRecord{Spec: pod, Netns: netns}
	if err := r.writeEtcFiles(rec); err != nil {
		return rec, err
	}
	type attached struct {
		att cni.Attachment
		err error
	}
	done := make(chan attached, 1)
	go func() {
		att, err := r.net.Setup(ctx, pod.UID, pod.Ports)
		done <- attached{att, err}
	}()
	created := r.createFirst(ctx, rec, first)
	res := <-done
	if res.err != nil {
		return rec, fmt.Errorf("network: %w", res.err) // RemovePod removes the created containers
	}
	rec.IP = res.att.IP.String()
	// In place: the created containers bind-mounted this very file.
	if err := os.WriteFile(filepath.Join(r.podDir(pod.UID), "etc", "hosts"), []byte(hostsFile(rec)), 0o644); err != nil {
		return rec, fmt.Errorf("write hosts: %w", err)
	}
	if err := r.writeRecord(rec); err != nil {
		return rec, err
	}
	for _, ct := range created {
		if start(ctx, ct.c, ct.task) != nil {
			r.discard(ctx, ct.c, ct.task)
		}
	}
	return rec, nil
}

type createdTask struct {
	c    client.Container
	task client.Task
}

// createFirst creates the containers RunPod was asked to start; the ones
// that fail are removed and left to StartContainer.
func (r *Containerd) createFirst(ctx context.Context, rec podRecord, first []ContainerSpec) []createdTask {
	var out []createdTask
	for _, cs := range first {
		img, err := r.ensureImage(ctx, cs.Container.Image, cs.Container.ImagePullPolicy)
		if err != nil {
			continue
		}
		c, err := r.create(ctx, rec, cs, img)
		if err != nil {
			r.forgetUnpacked(img)
			continue
		}
		task, err := newTask(ctx, c, r.logPath(rec.Spec.UID, cs.Container.Name, cs.Attempt))
		if err != nil {
			r.discard(ctx, c, nil)
			continue
		}
		out = append(out, createdTask{c, task})
	}
	return out
}

// discard removes a container RunPod could not start; what it fails to
// remove, StartContainer (clearAttempts) or RemovePod removes later.
func (r *Containerd) discard(ctx context.Context, c client.Container, task client.Task) {
	ctx = context.WithoutCancel(ctx)
	if task != nil {
		_, _ = task.Delete(ctx, client.WithProcessKill)
	}
	_ = r.deleteContainer(ctx, c)
}

// podInfo reports a pod from its record and its containers.
func (r *Containerd) podInfo(ctx context.Context, rec podRecord) (PodInfo, error) {
	ctx = r.withNS(ctx)
	info := PodInfo{UID: rec.Spec.UID, Name: rec.Spec.Name, Namespace: rec.Spec.Namespace, IP: rec.IP, Netns: rec.Netns}
	if att, err := r.net.Get(rec.Spec.UID); err == nil {
		info.IP = att.IP.String()
	}
	latest, err := r.latestContainers(ctx, rec.Spec.UID)
	if err != nil {
		return info, err
	}
	for _, c := range latest {
		st, err := r.status(ctx, c)
		if err != nil {
			return info, err
		}
		info.Containers = append(info.Containers, st)
	}
	sort.Slice(info.Containers, func(i, j int) bool { return info.Containers[i].Name < info.Containers[j].Name })
	return info, nil
}

// ListPods returns every pod this runtime's DataDir and namespace hold.
func (r *Containerd) ListPods(ctx context.Context) ([]PodInfo, error) {
	entries, err := os.ReadDir(filepath.Join(r.dataDir, "pods"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("runtime: list pods: %w", err)
	}
	var out []PodInfo
	for _, e := range entries {
		rec, err := r.readRecord(e.Name())
		if err != nil {
			continue // a pod being removed
		}
		info, err := r.podInfo(ctx, rec)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// RemovePod kills and deletes the pod's containers (with their tasks and
// snapshots), tears its network down and removes its files. Removing a
// missing pod succeeds.
func (r *Containerd) RemovePod(ctx context.Context, uid string) error {
	ctx = r.withNS(ctx)
	cs, err := r.client.Containers(ctx, podFilter(uid))
	if err != nil {
		return fmt.Errorf("runtime: pod %s: list containers: %w", uid, err)
	}
	for _, c := range cs {
		if err := r.deleteContainer(ctx, c); err != nil {
			return fmt.Errorf("runtime: pod %s: %w", uid, err)
		}
	}
	if err := r.net.Teardown(ctx, uid); err != nil && !errors.Is(err, cni.ErrNotFound) {
		return fmt.Errorf("runtime: pod %s: %w", uid, err)
	}
	if err := r.unmountVolumes(uid); err != nil {
		return err
	}
	if err := os.RemoveAll(r.podDir(uid)); err != nil {
		return fmt.Errorf("runtime: pod %s: remove files: %w", uid, err)
	}
	return nil
}

// deleteContainer kills a container's task if any and deletes it with its snapshot.
func (r *Containerd) deleteContainer(ctx context.Context, c client.Container) error {
	if err := r.killTask(ctx, c); err != nil {
		return err
	}
	r.cgroups.Delete(c.ID())
	if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete container %s: %w", c.ID(), err)
	}
	return nil
}
