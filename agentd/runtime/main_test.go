package runtime

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/agentd/cni"
	agentcd "github.com/gantry-sh/gantry/agentd/containerd"
	"github.com/gantry-sh/gantry/agentd/testimage"
)

// testEnv is the real containerd, network and image the slow tests share.
type testEnv struct {
	daemon  *agentcd.Daemon
	rt      *Containerd
	netCfg  cni.Config
	dataDir string
	image   string
}

// env is set by TestMain for the slow tests; nil under -short.
var env *testEnv

const (
	testBridge = "gantryt0"
	testSubnet = "10.244.77.0/24"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(runWithEnv(m))
}

func runWithEnv(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gantry-runtime-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	e, stop, err := setupEnv(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime tests: setup:", err)
		if stop != nil {
			stop()
		}
		return 1
	}
	defer stop()
	env = e
	return m.Run()
}

// setupEnv starts containerd, the registry and the network; stop undoes
// all of it, removing any pod a failed test left behind.
func setupEnv(dir string) (*testEnv, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := agentcd.Ensure(ctx, agentcd.Options{DataDir: dir + "/containerd"})
	if err != nil {
		return nil, nil, err
	}
	e := &testEnv{daemon: d, dataDir: dir + "/agent"}
	e.netCfg = cni.Config{Name: "gantry-rt-test", Bridge: testBridge, Subnet: testSubnet,
		DataDir: dir + "/cni", NetnsDir: dir + "/netns"}
	ref, stopRegistry, err := testimage.ServeBusybox()
	stop := func() {
		e.removeAll()
		if stopRegistry != nil {
			stopRegistry()
		}
		_ = d.Close()
		_ = exec.Command("ip", "link", "del", testBridge).Run()
	}
	if err != nil {
		return nil, stop, err
	}
	e.image = ref
	e.rt, err = e.newRuntime()
	return e, stop, err
}

func (e *testEnv) newRuntime() (*Containerd, error) {
	n, err := cni.New(e.netCfg)
	if err != nil {
		return nil, err
	}
	ns := fmt.Sprintf("gantry-test-%d", os.Getpid())
	return New(Options{Client: e.daemon.Client, Namespace: ns, DataDir: e.dataDir, Network: n})
}

func (e *testEnv) removeAll() {
	if e.rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods, _ := e.rt.ListPods(ctx)
	for _, p := range pods {
		if err := e.rt.RemovePod(ctx, p.UID); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}
	ns := e.rt.withNS(ctx)
	imgs, _ := e.daemon.Client.ImageService().List(ns)
	for _, img := range imgs {
		_ = e.daemon.Client.ImageService().Delete(ns, img.Name)
	}
	_ = e.daemon.Client.NamespaceService().Delete(ctx, e.rt.ns)
	// runc keeps a per-namespace state dir under /run/containerd whatever
	// --state says; remove ours if it is empty (never anyone else's).
	_ = os.Remove(filepath.Join("/run/containerd/runc", e.rt.ns))
}

// slow skips under -short and returns the shared environment.
func slow(t *testing.T) *testEnv {
	t.Helper()
	if testing.Short() || env == nil {
		t.Skip("needs containerd, runc and CNI plugins (skipped with -short)")
	}
	return env
}
