package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDataPathBenchmark compares, in one run, HTTP requests through a
// ClusterIP (nftables DNAT over 3 backends) with requests straight to the
// pod IPs (round robin over the same 3), from the same Go client in the
// client namespace: 4 workers, one new connection per request (so every
// request takes the NAT path), 4 alternating rounds of 3 s per path.
// Set GANTRY_BENCH=1 to run it.
func TestDataPathBenchmark(t *testing.T) {
	if os.Getenv("GANTRY_BENCH") == "" {
		t.Skip("set GANTRY_BENCH=1")
	}
	tp := newTopo(t, 3)
	for i := range 3 {
		tp.startGoHTTP(i)
	}
	p := newProxier(t, tp)
	sp := webPort(3)
	if err := p.Sync([]ServicePort{sp}); err != nil {
		t.Fatal(err)
	}
	direct := []string{backendIP(0) + ":80", backendIP(1) + ":80", backendIP(2) + ":80"}
	vipAddr := []string{vip.String() + ":80"}
	results := map[string][]time.Duration{}
	counts := map[string]int{}
	var elapsed = map[string]time.Duration{}
	for round := range 4 {
		for _, path := range []struct {
			name  string
			addrs []string
		}{{"direct", direct}, {"clusterip", vipAddr}} {
			lat, errs, d := tp.load(path.addrs, 4, 3*time.Second)
			results[path.name] = append(results[path.name], lat...)
			counts[path.name+"-errors"] += errs
			elapsed[path.name] += d
			t.Logf("round %d %s: %d requests, %d errors", round, path.name, len(lat), errs)
		}
	}
	for _, name := range []string{"direct", "clusterip"} {
		lat := results[name]
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("%-9s %8.0f req/s  p50 %v  p99 %v  errors %d", name, float64(len(lat))/elapsed[name].Seconds(),
			lat[len(lat)/2], lat[len(lat)*99/100], counts[name+"-errors"])
	}
}

// startGoHTTP serves "b<i>" from a Go HTTP server listening inside
// backend i; closed at cleanup.
func (tp *topo) startGoHTTP(i int) {
	tp.t.Helper()
	var l net.Listener
	var lerr error
	if err := tp.inNS(tp.backends[i], func() { l, lerr = net.Listen("tcp", backendIP(i)+":80") }); err != nil || lerr != nil {
		tp.t.Fatal(err, lerr)
	}
	body := []byte(fmt.Sprintf("b%d", i))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })}
	go func() { _ = srv.Serve(l) }()
	tp.t.Cleanup(func() { _ = srv.Close() })
}

// load runs workers goroutines, each on a thread inside the client
// namespace, sending one request per new connection to addrs in turn
// for d; it returns every latency and the number of failures.
func (tp *topo) load(addrs []string, workers int, d time.Duration) ([]time.Duration, int, time.Duration) {
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			var lat []time.Duration
			n := 0
			_, restored := switchAndRun(tp.nsPath(tp.client), func() {
				deadline := time.Now().Add(d)
				for i := w; time.Now().Before(deadline); i++ {
					t0 := time.Now()
					if err := oneRequest(addrs[i%len(addrs)]); err != nil {
						n++
						continue
					}
					lat = append(lat, time.Since(t0))
				}
			})
			if restored {
				runtime.UnlockOSThread()
			}
			mu.Lock()
			all, errs = append(all, lat...), errs+n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, errs, time.Since(start)
}

func oneRequest(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := make([]byte, 16)
	n, _ := resp.Body.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "b") {
		return fmt.Errorf("body %q", buf[:n])
	}
	return nil
}
