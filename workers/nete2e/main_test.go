package nete2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	agentcd "github.com/gantry-sh/gantry/agentd/containerd"
	"github.com/gantry-sh/gantry/agentd/testimage"
)

// Shared by every test: one containerd and the busybox image.
var (
	daemon  *agentcd.Daemon
	image   string
	skipWhy string // set when the machine cannot run these tests
)

func TestMain(m *testing.M) {
	flag.Parse()
	if why := prerequisites(); why != "" || testing.Short() {
		skipWhy = why
		if skipWhy == "" {
			skipWhy = "skipped with -short"
		}
		os.Exit(m.Run())
	}
	os.Exit(runWithContainerd(m))
}

// prerequisites names what is missing, or returns "".
func prerequisites() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces, nftables, containerd)"
	}
	for _, bin := range []string{"containerd", "runc", "ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			return "needs " + bin
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return "needs the CNI plugins in /usr/lib/cni"
	}
	if _, err := os.Stat(testimage.BusyboxPath); err != nil {
		return "needs " + testimage.BusyboxPath
	}
	return ""
}

// lockPath serialises runs of this package across processes: they share
// the bridge, the addresses and the table names.
const lockPath = "/run/lock/gantry-nete2e.lock"

func runWithContainerd(m *testing.M) int {
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nete2e: lock:", err)
		return 1
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		fmt.Fprintln(os.Stderr, "nete2e: lock:", err)
		return 1
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	tmp, err := os.MkdirTemp("", "gantry-nete2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if daemon, err = agentcd.Ensure(ctx, agentcd.Options{DataDir: filepath.Join(tmp, "containerd")}); err != nil {
		fmt.Fprintln(os.Stderr, "nete2e: containerd:", err)
		return 1
	}
	defer daemon.Close()
	ref, stop, err := testimage.ServeBusybox()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nete2e: registry:", err)
		return 1
	}
	defer stop()
	image = ref
	defer removeBridge() // a test that died before its cleanup
	return m.Run()
}

func needsNode(t testing.TB) {
	t.Helper()
	if daemon == nil {
		t.Skip(skipWhy)
	}
}
