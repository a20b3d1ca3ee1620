package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func (r *Containerd) volumeDir(uid, vol string) string {
	return filepath.Join(r.podDir(uid), "volumes", vol)
}

// EmptyDir prepares an emptyDir volume and returns its host path. Medium
// Memory mounts a tmpfs there (sized by sizeLimit if given), shared by all
// the pod's containers; its pages count against the writing container's
// memory limit.
func (r *Containerd) EmptyDir(uid, vol string, medium corev1.StorageMedium, sizeLimit *resource.Quantity) (string, error) {
	dir := r.volumeDir(uid, vol)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", fmt.Errorf("runtime: pod %s: volume %s: %w", uid, vol, err)
	}
	if medium != corev1.StorageMediumMemory || isMountpoint(dir) {
		return dir, nil
	}
	opts := "mode=1777"
	if sizeLimit != nil && !sizeLimit.IsZero() {
		opts += ",size=" + strconv.FormatInt(sizeLimit.Value(), 10)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return "", fmt.Errorf("runtime: pod %s: volume %s: mount tmpfs: %w", uid, vol, err)
	}
	return dir, nil
}

// FilesDir writes a configMap or secret volume (file name → content) and
// returns its host path. Rewriting replaces the files.
func (r *Containerd) FilesDir(uid, vol string, files map[string][]byte, mode os.FileMode) (string, error) {
	dir := r.volumeDir(uid, vol)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("runtime: pod %s: volume %s: %w", uid, vol, err)
	}
	for name, data := range files {
		if name != filepath.Base(name) || name == "." || name == ".." {
			return "", fmt.Errorf("runtime: pod %s: volume %s: bad file name %q", uid, vol, name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, mode); err != nil {
			return "", fmt.Errorf("runtime: pod %s: volume %s: %w", uid, vol, err)
		}
	}
	return dir, nil
}

// unmountVolumes detaches the tmpfs volumes of a pod.
func (r *Containerd) unmountVolumes(uid string) error {
	entries, err := os.ReadDir(filepath.Join(r.podDir(uid), "volumes"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		dir := r.volumeDir(uid, e.Name())
		if !isMountpoint(dir) {
			continue
		}
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("runtime: pod %s: unmount %s: %w", uid, dir, err)
		}
	}
	return nil
}

// isMountpoint compares the device of dir and its parent.
func isMountpoint(dir string) bool {
	var a, b unix.Stat_t
	if unix.Stat(dir, &a) != nil || unix.Stat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}
