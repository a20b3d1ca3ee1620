package agent_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/agentd/cni"
	agentcd "github.com/gantry-sh/gantry/agentd/containerd"
	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/bus"
)

// Benchmarks that measure the agent's own CPU and memory run it as a
// process of its own: this test binary started again with envChild set
// (TestMain) runs one agent with the production intervals (lease 5s,
// resync 10s, metrics 10s) over NATS on loopback TCP, and nothing else.
//
// The child prints "ready" once the agent is; on SIGUSR2 it starts a CPU
// profile (when childConfig.CPUProfile is set), on SIGUSR1 it stops it,
// writes heap and goroutine profiles beside it and prints a childStats line; SIGTERM
// stops the agent (pods keep running).
const envChild = "GANTRY_AGENT_CHILD"

// childConfig is passed as JSON in envChild.
type childConfig struct {
	NATS, Containerd string
	Node, Namespace  string
	Dir              string // the node's dir: cni/, netns/, agent/ as in prepareNode
	Bridge, CIDR     string
	CPUProfile       string
}

// childStats is the child's Go memory, read in the child.
type childStats struct {
	HeapAlloc, HeapInuse, HeapSys, Sys uint64
	StackInuse                         uint64
	HeapLive                           uint64 // HeapAlloc right after a forced GC
	Goroutines                         int
}

func runChild() int {
	if r, err := strconv.Atoi(os.Getenv("GANTRY_AGENT_CHILD_MEMPROFILERATE")); err == nil {
		goruntime.MemProfileRate = r // finer heap profiles (-agent-cpuprofile writes FILE.heap)
	}
	agent.TuneProcessGC() // as `gantry agent` does
	var cfg childConfig
	if err := json.Unmarshal([]byte(os.Getenv(envChild)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child agent: config:", err)
		return 2
	}
	if err := childAgent(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child agent:", err)
		return 1
	}
	return 0
}

func childAgent(cfg childConfig) error {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	d, err := agentcd.Ensure(ctx, agentcd.Options{Address: cfg.Containerd})
	if err != nil {
		return err
	}
	defer d.Close()
	nw, err := cni.New(cni.Config{Name: "gantry-e2e", Bridge: cfg.Bridge, Subnet: cfg.CIDR,
		DataDir: filepath.Join(cfg.Dir, "cni"), NetnsDir: filepath.Join(cfg.Dir, "netns")})
	if err != nil {
		return err
	}
	rt, err := runtime.New(runtime.Options{Client: d.Client, Namespace: cfg.Namespace, DataDir: filepath.Join(cfg.Dir, "agent"), Network: nw})
	if err != nil {
		return err
	}
	conn, err := bus.Connect(cfg.NATS, "gantry-agent-child")
	if err != nil {
		return err
	}
	defer conn.Close()
	a, err := agent.New(conn, rt, agent.Config{
		NodeName: cfg.Node, PodCIDR: cfg.CIDR, Labels: map[string]string{"zone": "test"}, ClusterDNS: []string{"10.96.0.10"},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	ready := a.Ready()
	var profile *os.File
	for {
		select {
		case err := <-done:
			return err
		case <-ready:
			ready = nil
			fmt.Println("ready")
		case s := <-sigs:
			if s == syscall.SIGUSR2 && cfg.CPUProfile != "" && profile == nil {
				if profile, err = os.Create(cfg.CPUProfile); err == nil {
					err = pprof.StartCPUProfile(profile)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "child agent: cpu profile:", err)
				}
				continue
			}
			if s == syscall.SIGUSR1 {
				if profile != nil {
					pprof.StopCPUProfile()
					profile.Close()
					profile = nil
					for _, name := range []string{"heap", "goroutine"} {
						if f, err := os.Create(cfg.CPUProfile + "." + name); err == nil {
							_ = pprof.Lookup(name).WriteTo(f, 0)
							f.Close()
						}
					}
				}
				var m goruntime.MemStats
				goruntime.ReadMemStats(&m)
				st := childStats{HeapAlloc: m.HeapAlloc, HeapInuse: m.HeapInuse, HeapSys: m.HeapSys, Sys: m.Sys, StackInuse: m.StackInuse, Goroutines: goruntime.NumGoroutine()}
				goruntime.GC()
				goruntime.ReadMemStats(&m)
				st.HeapLive = m.HeapAlloc
				b, _ := json.Marshal(st)
				fmt.Println(string(b))
			}
		}
	}
}

// childNode is a node whose agent runs in a child process.
type childNode struct {
	*node
	cmd   *exec.Cmd
	lines chan string // the child's stdout
}

// startChildNode starts the agent of a new node in a child process and
// waits until it is ready. Cleanup stops it (SIGTERM, SIGKILL after 20s)
// and removes what its pods left.
func startChildNode(t testing.TB, c *cluster, cpuProfile string) *childNode {
	t.Helper()
	n := prepareNode(t)
	cfg, _ := json.Marshal(childConfig{NATS: c.ns.ClientURL(), Containerd: daemon.Address, Node: testNode, Namespace: n.ns,
		Dir: n.dir, Bridge: testBridge, CIDR: testCIDR, CPUProfile: cpuProfile})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envChild+"="+string(cfg))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cn := &childNode{node: n, cmd: cmd, lines: make(chan string, 16)}
	exited := make(chan struct{})
	n.done = make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			cn.lines <- sc.Text()
		}
		close(cn.lines)
	}()
	go func() { n.done <- cmd.Wait(); close(exited) }()
	n.cancel = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		go func() {
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
			}
		}()
	}
	select {
	case l := <-cn.lines:
		if l != "ready" {
			t.Fatalf("child agent said %q, not ready", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child agent not ready within 30s")
	}
	return cn
}

// procCPU is the child's user+system CPU time so far.
func (cn *childNode) procCPU(t testing.TB) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cn.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// fields after the parenthesised command: state is field 3, utime 14, stime 15
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck
}

// procMem is the child's resident memory from /proc/PID/status.
type procMem struct {
	RSS, Peak  uint64 // VmRSS, VmHWM
	Anon, File uint64 // RssAnon (heap, stacks), RssFile (the binary's pages, shared)
}

func (m procMem) String() string {
	return fmt.Sprintf("RSS %.1f MiB (anon %.1f, file %.1f; peak %.1f)", mib(m.RSS), mib(m.Anon), mib(m.File), mib(m.Peak))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// procRSS reads the child's resident memory.
func (cn *childNode) procRSS(t testing.TB) (m procMem) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cn.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = kb << 10
		case "VmHWM":
			m.Peak = kb << 10
		case "RssAnon":
			m.Anon = kb << 10
		case "RssFile":
			m.File = kb << 10
		}
	}
	return m
}

// stats asks the child for its Go memory (and ends a CPU profile).
func (cn *childNode) stats(t testing.TB) childStats {
	t.Helper()
	if err := cn.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-cn.lines:
		var s childStats
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("child stats %q: %v", l, err)
		}
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("child agent did not report its stats")
	}
	return childStats{}
}
