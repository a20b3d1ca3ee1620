package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// topo is a test network: a "node" namespace routing between a client
// namespace and backend namespaces, each joined by a veth pair created
// directly inside the namespaces (the host's namespace is never touched).
//
//	client 10.250.100.2 ── 10.250.100.1 node 10.250.<i>.1 ── 10.250.<i>.2 backend i
//
// The node routes the service CIDR 10.96.0.0/12, so packets to a VIP
// without endpoints reach the forward hook.
type topo struct {
	t        testing.TB
	prefix   string
	node     string
	client   string
	backends []string
}

var topoSeq atomic.Int32

const (
	clientIP = "10.250.100.2"
	nodeIP   = "10.250.100.1"
)

func backendIP(i int) string { return fmt.Sprintf("10.250.%d.2", i+1) }

func requireNetAdmin(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, bin := range []string{"ip", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s", bin)
		}
	}
}

// newTopo builds the namespaces and n backends; everything is deleted in
// t.Cleanup, also on failure.
func newTopo(t testing.TB, n int) *topo {
	requireNetAdmin(t)
	tp := &topo{t: t, prefix: fmt.Sprintf("gpx%d-%d", os.Getpid()%100000, topoSeq.Add(1))}
	tp.node = tp.addNS("node")
	tp.client = tp.addNS("client")
	// Forwarding on; no ICMP redirects (the service CIDR is routed back out
	// of the client link, and a redirect would use up the per-host ICMP
	// budget that a UDP port-unreachable needs).
	tp.run("ip", "netns", "exec", tp.node, "sysctl", "-qw", "net.ipv4.ip_forward=1",
		"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0")
	tp.link("vc", tp.client, nodeIP, clientIP)
	// No dummy driver in every kernel: route the service CIDR out of the
	// client link; a VIP packet that is neither DNATed nor rejected dies
	// unanswered there.
	tp.run("ip", "-n", tp.node, "route", "add", "10.96.0.0/12", "dev", "vc")
	for i := range n {
		ns := tp.addNS(fmt.Sprintf("b%d", i))
		tp.backends = append(tp.backends, ns)
		tp.link(fmt.Sprintf("vb%d", i), ns, fmt.Sprintf("10.250.%d.1", i+1), backendIP(i))
	}
	return tp
}

func (tp *topo) addNS(role string) string {
	name := tp.prefix + "-" + role
	tp.run("ip", "netns", "add", name)
	tp.t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	tp.run("ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// link joins the node (nodeAddr) and ns (addr, default route via node).
func (tp *topo) link(nodeSide, ns, nodeAddr, addr string) {
	tp.run("ip", "-n", tp.node, "link", "add", nodeSide, "type", "veth", "peer", "name", "eth0", "netns", ns)
	tp.run("ip", "-n", tp.node, "addr", "add", nodeAddr+"/24", "dev", nodeSide)
	tp.run("ip", "-n", tp.node, "link", "set", nodeSide, "up")
	tp.run("ip", "-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
	tp.run("ip", "-n", ns, "link", "set", "eth0", "up")
	tp.run("ip", "-n", ns, "route", "add", "default", "via", nodeAddr)
}

func (tp *topo) run(args ...string) {
	tp.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		tp.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (tp *topo) nsPath(ns string) string { return filepath.Join("/run/netns", ns) }

// startHTTPD runs busybox httpd in backend i serving /name = its name.
func (tp *topo) startHTTPD(i int) {
	tp.t.Helper()
	dir := tp.t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "name"), []byte(fmt.Sprintf("b%d", i)), 0o644); err != nil {
		tp.t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", tp.backends[i], "busybox", "httpd", "-f", "-p", "80", "-h", dir)
	if err := cmd.Start(); err != nil {
		tp.t.Fatal(err)
	}
	pid := cmd.Process.Pid
	tp.t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	tp.waitListening(backendIP(i) + ":80")
}

// waitListening dials addr from the client until it answers (bounded).
func (tp *topo) waitListening(addr string) {
	tp.t.Helper()
	for range 100 {
		if c, err := tp.dial(tp.client, "tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tp.t.Fatalf("%s never listened", addr)
}

// inNS runs f on an OS thread switched into namespace ns; sockets f
// creates stay in ns. The thread is switched back, or dies with its
// goroutine if that fails.
func (tp *topo) inNS(ns string, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err, restored := switchAndRun(tp.nsPath(ns), f)
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func switchAndRun(nsPath string, f func()) (error, bool) {
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return err, true
	}
	defer orig.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		return err, true
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return err, true
	}
	f()
	return nil, unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil
}

// dial opens a connection from inside namespace ns.
func (tp *topo) dial(ns, network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	var dialErr error
	err := tp.inNS(ns, func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c, dialErr = (&net.Dialer{}).DialContext(ctx, network, addr)
	})
	return c, errors.Join(err, dialErr)
}

// startUDPEcho answers every datagram to backend i's port 5353 with "b<i>",
// from a socket bound inside the backend namespace; closed at cleanup.
func (tp *topo) startUDPEcho(i int) {
	tp.t.Helper()
	var pc net.PacketConn
	var lerr error
	if err := tp.inNS(tp.backends[i], func() { pc, lerr = net.ListenPacket("udp", backendIP(i)+":5353") }); err != nil || lerr != nil {
		tp.t.Fatal(err, lerr)
	}
	tp.t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(fmt.Sprintf("b%d", i)), from)
		}
	}()
}

// udpSpread sends n datagrams, each from a new socket (a new conntrack
// entry), and counts who answered.
func (tp *topo) udpSpread(ns, addr string, n int) map[string]int {
	counts := map[string]int{}
	for range n {
		c, err := tp.dial(ns, "udp", addr, time.Second)
		if err != nil {
			counts["error"]++
			continue
		}
		counts[udpAsk(c)]++
		c.Close()
	}
	return counts
}

// get fetches /name over HTTP/1.0 from inside ns and returns the body.
func (tp *topo) get(ns, addr string) (string, error) {
	c, err := tp.dial(ns, "tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /name HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	var all []byte
	for {
		n, err := c.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			break
		}
	}
	_, body, ok := strings.Cut(string(all), "\r\n\r\n")
	if !ok {
		return "", fmt.Errorf("no HTTP body in %q", all)
	}
	return body, nil
}

// spread sends n requests (bounded in count and by deadline) and counts
// the backends that answered.
func (tp *topo) spread(ns, addr string, n int) map[string]int {
	tp.t.Helper()
	counts := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		body, err := tp.get(ns, addr)
		if err != nil {
			counts["error"]++
			continue
		}
		counts[body]++
	}
	return counts
}

// nft runs the nft CLI inside the node namespace (for assertions only).
func (tp *topo) nft(args ...string) string {
	tp.t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", tp.node, "nft"}, args...)...).CombinedOutput()
	if err != nil {
		tp.t.Fatalf("nft %v: %v: %s", args, err, out)
	}
	return string(out)
}

// udpAsk sends one datagram and returns the backend's answer, resending up
// to three times as any UDP client does ("error" if none came back): on a
// loaded machine a datagram may be lost, which is not the proxy's doing.
func udpAsk(c net.Conn) string {
	buf := make([]byte, 64)
	for range 3 {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("hi")); err != nil {
			return "error"
		}
		if m, err := c.Read(buf); err == nil {
			return string(buf[:m])
		}
	}
	return "error"
}
