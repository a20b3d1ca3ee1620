package runtime

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// oomKilled reports whether the kernel OOM-killed a process in the cgroup.
// It must run after the task exits and before it is deleted (runc removes
// the cgroup on delete). cgroup v2 counts in memory.events, v1 in
// memory.oom_control; both name the counter oom_kill.
func oomKilled(cgroupsPath string) bool {
	if cgroupsPath == "" || strings.Contains(cgroupsPath, ":") { // systemd-style paths: not supported
		return false
	}
	files := []string{
		filepath.Join("/sys/fs/cgroup", cgroupsPath, "memory.events"),
		filepath.Join("/sys/fs/cgroup/memory", cgroupsPath, "memory.oom_control"),
	}
	for _, f := range files {
		if n, ok := counter(f, "oom_kill"); ok {
			return n > 0
		}
	}
	return false
}

func counter(file, key string) (int64, bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
