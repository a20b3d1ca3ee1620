package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerUsage is what a running container uses, read from its cgroup.
type ContainerUsage struct {
	Name string
	// CPUNanos is cumulative CPU time; MemoryBytes the working set (usage
	// minus inactive file cache), as the kubelet reports it.
	CPUNanos    uint64
	MemoryBytes uint64
}

// Usage reads the cgroup counters of the running containers of every pod
// on the node, by pod uid, from one listing of the runtime's containers:
// the latest attempt of each container whose labels do not record an exit
// and whose cgroup can be read (runc removes it when the task is
// deleted). cgroup v1 (cpuacct, memory controllers) and v2 (unified at
// /sys/fs/cgroup) are read.
func (r *Containerd) Usage(ctx context.Context) (map[string][]ContainerUsage, error) {
	ctx = r.withNS(ctx)
	cs, err := r.client.Containers(ctx, managedFilter())
	if err != nil {
		return nil, fmt.Errorf("runtime: list containers: %w", err)
	}
	type latest struct {
		c       client.Container
		attempt int
		exited  bool
	}
	byName := map[[2]string]latest{} // pod uid, container name
	for _, c := range cs {
		info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
		if err != nil {
			continue
		}
		l := info.Labels
		key := [2]string{l[labelPodUID], l[labelContainer]}
		if cur, ok := byName[key]; !ok || attemptOf(l) > cur.attempt {
			_, exited := l[labelExitCode]
			byName[key] = latest{c: c, attempt: attemptOf(l), exited: exited}
		}
	}
	out := map[string][]ContainerUsage{}
	for key, l := range byName {
		if l.exited {
			continue
		}
		if u, ok := cgroupUsage(r.cgroupsPath(l.c)); ok {
			u.Name = key[1]
			out[key[0]] = append(out[key[0]], u)
		}
	}
	for _, us := range out {
		sort.Slice(us, func(i, j int) bool { return us[i].Name < us[j].Name })
	}
	return out, nil
}

// cgroupsPath is the container's cgroup from its spec, which never
// changes: read once from the listed record and kept.
func (r *Containerd) cgroupsPath(c client.Container) string {
	if p, ok := r.cgroups.Load(c.ID()); ok {
		return p.(string)
	}
	info, err := c.Info(context.Background(), client.WithoutRefreshedMetadata)
	if err != nil || info.Spec == nil {
		return ""
	}
	var spec specs.Spec
	if json.Unmarshal(info.Spec.GetValue(), &spec) != nil || spec.Linux == nil {
		return ""
	}
	r.cgroups.Store(c.ID(), spec.Linux.CgroupsPath)
	return spec.Linux.CgroupsPath
}

func cgroupUsage(path string) (ContainerUsage, bool) {
	if path == "" || strings.Contains(path, ":") {
		return ContainerUsage{}, false
	}
	v2 := filepath.Join("/sys/fs/cgroup", path)
	if usec, ok := counter(filepath.Join(v2, "cpu.stat"), "usage_usec"); ok {
		mem, _ := readUint(filepath.Join(v2, "memory.current"))
		inactive, _ := counter(filepath.Join(v2, "memory.stat"), "inactive_file")
		return ContainerUsage{CPUNanos: uint64(usec) * 1000, MemoryBytes: workingSet(mem, uint64(inactive))}, true
	}
	cpu, ok := readUint(filepath.Join("/sys/fs/cgroup/cpuacct", path, "cpuacct.usage"))
	if !ok {
		return ContainerUsage{}, false
	}
	memDir := filepath.Join("/sys/fs/cgroup/memory", path)
	mem, _ := readUint(filepath.Join(memDir, "memory.usage_in_bytes"))
	inactive, _ := counter(filepath.Join(memDir, "memory.stat"), "total_inactive_file")
	return ContainerUsage{CPUNanos: cpu, MemoryBytes: workingSet(mem, uint64(inactive))}, true
}

func workingSet(usage, inactive uint64) uint64 {
	if inactive > usage {
		return 0
	}
	return usage - inactive
}

func readUint(file string) (uint64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}
