package dns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// TestCompareCoreDNS measures, in one run and with one load generator
// (loadUDP: 8 clients, one UDP socket each, A queries over the 1,000
// services of benchStore), the worker's handler against a CoreDNS binary
// serving the same records from a zone file with the file plugin. Rounds
// alternate. Set GANTRY_COREDNS to the coredns binary to run it.
func TestCompareCoreDNS(t *testing.T) {
	bin := os.Getenv("GANTRY_COREDNS")
	if bin == "" {
		t.Skip("set GANTRY_COREDNS=/path/to/coredns")
	}
	store := benchStore()
	ours := startServer(t, store, Config{})
	theirs := startCoreDNS(t, bin, store)
	totals := map[string]float64{}
	for round := range 3 {
		for _, s := range []struct{ name, addr string }{{"gantry", ours}, {"coredns", theirs}} {
			qps, errs := loadUDP(s.addr, 8, 5*time.Second)
			totals[s.name] += qps
			t.Logf("round %d %-7s %8.0f queries/s (%d errors)", round, s.name, qps, errs)
		}
	}
	t.Logf("mean: gantry %.0f q/s, coredns %.0f q/s, ratio gantry/coredns %.2f",
		totals["gantry"]/3, totals["coredns"]/3, totals["gantry"]/totals["coredns"])
}

// startCoreDNS writes store's A records as a zone file and serves it with
// CoreDNS on a free loopback port; the process is killed at cleanup.
func startCoreDNS(t *testing.T, bin string, store *Store) string {
	t.Helper()
	dir := t.TempDir()
	var zone strings.Builder
	zone.WriteString("$ORIGIN cluster.local.\n@ 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5\n@ 5 IN NS ns.dns.cluster.local.\nns.dns 5 IN A 127.0.0.1\n")
	for i := range 1000 {
		rec, _ := store.Service("default", fmt.Sprintf("svc-%d", i))
		fmt.Fprintf(&zone, "svc-%d.default.svc 5 IN A %s\n", i, rec.ClusterIPs[0])
	}
	if err := os.WriteFile(filepath.Join(dir, "zone"), []byte(zone.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	corefile := fmt.Sprintf("cluster.local.:%d {\n  bind 127.0.0.1\n  file %s cluster.local.\n}\n", port, filepath.Join(dir, "zone"))
	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-conf", filepath.Join(dir, "Corefile"), "-quiet")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for range 100 {
		c := &mdns.Client{Timeout: 200 * time.Millisecond}
		if r, _, err := c.Exchange(new(mdns.Msg).SetQuestion("svc-1.default.svc.cluster.local.", mdns.TypeA), addr); err == nil && len(r.Answer) == 1 {
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("coredns never answered")
	return ""
}

// loadUDP is the load generator: clients goroutines, one UDP socket each,
// one query in flight per socket, for d.
func loadUDP(addr string, clients int, d time.Duration) (float64, int64) {
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &mdns.Client{Net: "udp", Timeout: time.Second}
			conn, err := c.Dial(addr)
			if err != nil {
				bad.Add(1)
				return
			}
			defer conn.Close()
			deadline := time.Now().Add(d)
			for i := w; time.Now().Before(deadline); i += clients {
				m := new(mdns.Msg).SetQuestion(fmt.Sprintf("svc-%d.default.svc.cluster.local.", i%1000), mdns.TypeA)
				r, _, err := c.ExchangeWithConn(m, conn)
				if err != nil || len(r.Answer) != 1 {
					bad.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(ok.Load()) / time.Since(start).Seconds(), bad.Load()
}
