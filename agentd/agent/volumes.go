package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/agentd/runtime"
)

// volume is a prepared pod volume.
type volume struct {
	path     string
	readOnly bool
	hash     [32]byte  // of a configMap or secret volume's files
	read     time.Time // when its source was last read
}

// ensureVolumes prepares every volume; configMap and secret volumes are
// re-read every ResyncInterval and rewritten when their object changed.
func (w *podWorker) ensureVolumes(ctx context.Context, pod *corev1.Pod) bool {
	now := w.a.cfg.Clock.Now()
	for _, v := range pod.Spec.Volumes {
		cur := w.volumes[v.Name]
		if cur != nil && (v.ConfigMap == nil && v.Secret == nil || now.Sub(cur.read) < w.a.cfg.ResyncInterval) {
			continue
		}
		vol, err := w.prepare(ctx, pod, v, cur)
		if err != nil {
			if cur != nil { // keep serving the last good files
				w.a.cfg.Log.Warn("agent: refresh volume", "pod", w.key(), "volume", v.Name, "err", err)
				continue
			}
			w.podErr, w.podReason = fmt.Sprintf("volume %q: %v", v.Name, err), ReasonFailedMount
			w.wakeAt(now.Add(w.a.cfg.Backoff.Base))
			return false
		}
		if vol != nil {
			vol.read = now
			w.volumes[v.Name] = vol
		}
	}
	w.podErr, w.podReason = "", ""
	return true
}

func (w *podWorker) prepare(ctx context.Context, pod *corev1.Pod, v corev1.Volume, cur *volume) (*volume, error) {
	switch {
	case v.EmptyDir != nil:
		p, err := w.a.rt.EmptyDir(w.uid, v.Name, v.EmptyDir.Medium, v.EmptyDir.SizeLimit)
		return &volume{path: p}, err
	case v.HostPath != nil:
		return hostPath(v.HostPath)
	case v.ConfigMap != nil:
		src := v.ConfigMap
		cm, err := w.a.configMap(ctx, pod.Namespace, src.Name)
		files := map[string][]byte{}
		switch {
		case err == nil:
			for k, val := range cm.Data {
				files[k] = []byte(val)
			}
			for k, val := range cm.BinaryData {
				files[k] = val
			}
		case !optionalMissing(err, src.Optional):
			return nil, err
		}
		return w.writeFiles(v.Name, files, src.Items, src.DefaultMode, cur)
	case v.Secret != nil:
		src := v.Secret
		s, err := w.a.secret(ctx, pod.Namespace, src.SecretName)
		files := map[string][]byte{}
		switch {
		case err == nil:
			files = s.Data
		case !optionalMissing(err, src.Optional):
			return nil, err
		}
		return w.writeFiles(v.Name, files, src.Items, src.DefaultMode, cur)
	}
	w.a.cfg.Log.Warn("agent: volume type not supported; not mounted", "pod", w.key(), "volume", v.Name)
	return &volume{}, nil
}

// writeFiles writes a configMap or secret volume when its content changed.
func (w *podWorker) writeFiles(name string, data map[string][]byte, items []corev1.KeyToPath, mode *int32, cur *volume) (*volume, error) {
	files := data
	if len(items) > 0 {
		files = map[string][]byte{}
		for _, it := range items {
			if val, ok := data[it.Key]; ok {
				files[it.Path] = val
			}
		}
	}
	h := hashFiles(files)
	if cur != nil && cur.hash == h {
		return cur, nil
	}
	perm := os.FileMode(0o644)
	if mode != nil {
		perm = os.FileMode(*mode)
	}
	p, err := w.a.rt.FilesDir(w.uid, name, files, perm)
	if err != nil {
		return nil, err
	}
	if cur != nil { // drop keys the object no longer has
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if _, ok := files[e.Name()]; !ok {
				_ = os.Remove(filepath.Join(p, e.Name()))
			}
		}
	}
	return &volume{path: p, readOnly: true, hash: h}, nil
}

func hashFiles(files map[string][]byte) [32]byte {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(files[k]))
		h.Write(files[k])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func hostPath(src *corev1.HostPathVolumeSource) (*volume, error) {
	t := corev1.HostPathUnset
	if src.Type != nil {
		t = *src.Type
	}
	fi, err := os.Stat(src.Path)
	switch t {
	case corev1.HostPathDirectoryOrCreate:
		if errors.Is(err, os.ErrNotExist) {
			err = os.MkdirAll(src.Path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if errors.Is(err, os.ErrNotExist) {
			var f *os.File
			if f, err = os.OpenFile(src.Path, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.Close()
			}
		}
	case corev1.HostPathDirectory:
		if err == nil && !fi.IsDir() {
			err = fmt.Errorf("hostPath %s is not a directory", src.Path)
		}
	case corev1.HostPathFile:
		if err == nil && fi.IsDir() {
			err = fmt.Errorf("hostPath %s is a directory", src.Path)
		}
	case corev1.HostPathUnset:
		err = nil // no check, as in Kubernetes
	}
	if err != nil {
		return nil, fmt.Errorf("hostPath %s: %w", src.Path, err)
	}
	return &volume{path: src.Path}, nil
}

// mounts are a container's volumeMounts on the prepared volumes.
func (w *podWorker) mounts(pod *corev1.Pod, c corev1.Container) []runtime.Mount {
	var out []runtime.Mount
	for _, m := range c.VolumeMounts {
		v := w.volumes[m.Name]
		if v == nil || v.path == "" {
			continue
		}
		p := v.path
		if m.SubPath != "" {
			p = filepath.Join(p, filepath.Clean("/"+m.SubPath))
		}
		out = append(out, runtime.Mount{ContainerPath: m.MountPath, HostPath: p, ReadOnly: m.ReadOnly || v.readOnly})
	}
	return out
}

var _ = apierrors.IsNotFound
