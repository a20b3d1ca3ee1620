package runtime

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
)

// specOpts turns a Kubernetes container into OCI spec options.
func (r *Containerd) specOpts(ctx context.Context, rec podRecord, cs ContainerSpec, img client.Image) ([]oci.SpecOpts, error) {
	args, err := processArgs(ctx, cs.Container, img)
	if err != nil {
		return nil, err
	}
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(args...),
		oci.WithHostname(rec.Spec.Hostname),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: rec.Netns}),
		oci.WithEnv(envList(cs)),
		oci.WithMounts(r.mounts(rec, cs.Mounts)),
	}
	if cs.Container.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cs.Container.WorkingDir))
	}
	return append(opts, resourceOpts(cs.Container.Resources)...), nil
}

// processArgs applies Kubernetes semantics: command replaces the image's
// entrypoint, args replace its cmd.
func processArgs(ctx context.Context, c corev1.Container, img client.Image) ([]string, error) {
	if len(c.Command) > 0 {
		return append(append([]string{}, c.Command...), c.Args...), nil
	}
	spec, err := img.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("image config of %s: %w", img.Name(), err)
	}
	cmd := spec.Config.Cmd
	if len(c.Args) > 0 {
		cmd = c.Args
	}
	args := append(append([]string{}, spec.Config.Entrypoint...), cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("no command: image %s has neither entrypoint nor cmd", img.Name())
	}
	return args, nil
}

func envList(cs ContainerSpec) []string {
	env := cs.Env
	if env == nil {
		env = cs.Container.Env
	}
	out := make([]string, 0, len(env))
	for _, e := range env {
		out = append(out, e.Name+"="+e.Value)
	}
	return out
}

// mounts are the caller's volumes plus the pod's /etc files.
func (r *Containerd) mounts(rec podRecord, ms []Mount) []specs.Mount {
	etc := filepath.Join(r.podDir(rec.Spec.UID), "etc")
	out := []specs.Mount{
		bind(filepath.Join(etc, "hosts"), "/etc/hosts", false),
		bind(filepath.Join(etc, "hostname"), "/etc/hostname", false),
		bind(filepath.Join(etc, "resolv.conf"), "/etc/resolv.conf", false),
	}
	for _, m := range ms {
		out = append(out, bind(m.HostPath, m.ContainerPath, m.ReadOnly))
	}
	return out
}

func bind(src, dst string, ro bool) specs.Mount {
	mode := "rw"
	if ro {
		mode = "ro"
	}
	return specs.Mount{Type: "bind", Source: src, Destination: dst, Options: []string{"rbind", "rprivate", mode}}
}

// resourceOpts maps limits to cgroup settings: memory limit, CFS quota for
// the CPU limit, and CPU shares from the request.
func resourceOpts(res corev1.ResourceRequirements) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if m, ok := res.Limits[corev1.ResourceMemory]; ok && !m.IsZero() {
		opts = append(opts, oci.WithMemoryLimit(uint64(m.Value())))
	}
	if c, ok := res.Limits[corev1.ResourceCPU]; ok && !c.IsZero() {
		const period = 100000
		quota := max(c.MilliValue()*period/1000, 1000)
		opts = append(opts, oci.WithCPUCFS(quota, period))
	}
	if c, ok := res.Requests[corev1.ResourceCPU]; ok && !c.IsZero() {
		opts = append(opts, oci.WithCPUShares(uint64(max(c.MilliValue()*1024/1000, 2))))
	}
	return opts
}
