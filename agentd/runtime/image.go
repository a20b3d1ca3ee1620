package runtime

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// EnsureImage makes ref present and unpacked according to the pull policy.
// An empty policy defaults as Kubernetes does: Always for :latest or no
// tag, IfNotPresent otherwise.
func (r *Containerd) EnsureImage(ctx context.Context, ref string, policy corev1.PullPolicy) error {
	_, err := r.ensureImage(r.withNS(ctx), ref, policy)
	return err
}

func (r *Containerd) ensureImage(ctx context.Context, ref string, policy corev1.PullPolicy) (client.Image, error) {
	name, err := normalize(ref)
	if err != nil {
		return nil, fmt.Errorf("runtime: image %q: %w: %w", ref, ErrImagePull, err)
	}
	if policy == "" {
		policy = defaultPolicy(name)
	}
	if policy != corev1.PullAlways {
		img, err := r.client.GetImage(ctx, name)
		switch {
		case err == nil:
			return img, r.unpack(ctx, img)
		case !errdefs.IsNotFound(err):
			return nil, fmt.Errorf("runtime: image %s: %w", ref, err)
		case policy == corev1.PullNever:
			return nil, fmt.Errorf("runtime: image %s not present and pull policy is Never: %w", ref, ErrImageNeverPull)
		}
	}
	return r.pull(ctx, ref, name)
}

func (r *Containerd) pull(ctx context.Context, ref, name string) (client.Image, error) {
	img, err := r.client.Pull(ctx, name,
		// a resolver per pull: Pull sets options on the one it is given, a
		// data race between pods pulling at once if they shared one
		client.WithResolver(newResolver()),
		client.WithPullUnpack,
		client.WithPullSnapshotter(r.snapshotter))
	if err != nil {
		return nil, fmt.Errorf("runtime: pull %s: %w: %w", ref, ErrImagePull, err)
	}
	return img, nil
}

// unpack makes sure the image's layers are unpacked in the snapshotter.
// Checking costs several round trips (manifest, config, a snapshot stat),
// so an image found unpacked is remembered; forgetUnpacked drops it when
// creating a container from it fails.
func (r *Containerd) unpack(ctx context.Context, img client.Image) error {
	key := img.Target().Digest.String()
	if _, ok := r.unpacked.Load(key); ok {
		return nil
	}
	ok, err := img.IsUnpacked(ctx, r.snapshotter)
	if err != nil {
		return err
	}
	if !ok {
		if err := img.Unpack(ctx, r.snapshotter); err != nil {
			return fmt.Errorf("runtime: unpack %s: %w", img.Name(), err)
		}
	}
	r.unpacked.Store(key, true)
	return nil
}

func (r *Containerd) forgetUnpacked(img client.Image) {
	r.unpacked.Delete(img.Target().Digest.String())
}

// normalize turns "busybox" into "docker.io/library/busybox:latest".
func normalize(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}

func defaultPolicy(name string) corev1.PullPolicy {
	if strings.HasSuffix(name, ":latest") {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}
