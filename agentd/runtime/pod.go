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

// RunPod creates the pod's netns, attaches it to the pod network and
// writes its record and /etc files. Running an existing pod returns it.
func (r *Containerd) RunPod(ctx context.Context, pod PodSpec) (PodInfo, error) {
	if pod.UID == "" {
		return PodInfo{}, errors.New("runtime: pod without uid")
	}
	if pod.Hostname == "" {
		pod.Hostname = pod.Name
	}
	if rec, err := r.readRecord(pod.UID); err == nil {
		return r.podInfo(ctx, rec)
	}
	att, err := r.net.Setup(ctx, pod.UID, pod.Ports)
	if err != nil {
		return PodInfo{}, fmt.Errorf("runtime: pod %s/%s: network: %w", pod.Namespace, pod.Name, err)
	}
	rec := podRecord{Spec: pod, IP: att.IP.String(), Netns: att.Netns}
	if err := r.writeEtcFiles(rec); err == nil {
		err = r.writeRecord(rec)
	}
	if err != nil {
		_ = r.RemovePod(context.WithoutCancel(ctx), pod.UID)
		return PodInfo{}, fmt.Errorf("runtime: pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return r.podInfo(ctx, rec)
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
	if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete container %s: %w", c.ID(), err)
	}
	return nil
}
