package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ContainerUsage is what a running container uses, read from its cgroup.
type ContainerUsage struct {
	Name string
	// CPUNanos is cumulative CPU time; MemoryBytes the working set (usage
	// minus inactive file cache), as the kubelet reports it.
	CPUNanos    uint64
	MemoryBytes uint64
}

// Usage reads the cgroup counters of a pod's running containers. cgroup v1
// (cpuacct, memory controllers) and v2 (unified at /sys/fs/cgroup) are read;
// a container whose cgroup cannot be read is left out.
func (r *Containerd) Usage(ctx context.Context, uid string) ([]ContainerUsage, error) {
	ctx = r.withNS(ctx)
	latest, err := r.latestContainers(ctx, uid)
	if err != nil {
		return nil, err
	}
	var out []ContainerUsage
	for _, c := range latest {
		st, err := r.status(ctx, c)
		if err != nil || st.State != StateRunning {
			continue
		}
		spec, err := c.Spec(ctx)
		if err != nil || spec.Linux == nil {
			continue
		}
		if u, ok := cgroupUsage(spec.Linux.CgroupsPath); ok {
			u.Name = st.Name
			out = append(out, u)
		}
	}
	return out, nil
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
