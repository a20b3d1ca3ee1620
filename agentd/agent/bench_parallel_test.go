package agent_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

var (
	parallelPods = flag.Int("pods", 100, "BenchmarkParallelPods: pods started at once")
	idleWindow   = flag.Duration("idle", 30*time.Second, "BenchmarkParallelPods: how long the idle agent is measured")
	agentProfile = flag.String("agent-cpuprofile", "", "BenchmarkParallelPods: write the idle agent's CPU profile here")
)

// BenchmarkParallelPods starts -pods pods (default 100) on one node at
// once and reports the time until all are Running (as events), then the
// agent's CPU and memory while idle with them running for -idle (30s).
// The agent runs as a process of its own (child_test.go) with the
// production intervals, so its CPU (utime+stime from /proc/PID/stat) and
// RSS are its alone; the control plane stays in the test process. One
// iteration only:
//
//	go test ./agentd/agent/ -run '^$' -bench ParallelPods -benchtime=1x
func BenchmarkParallelPods(b *testing.B) {
	slow(b)
	c := startCluster(b)
	cn := startChildNode(b, c, *agentProfile)
	memNoPods := cn.procRSS(b)
	runningCh := make(chan string, 10000)
	sub, err := bus.SubscribeEvents(c.conn, func(e bus.Envelope) {
		if isRunningEvent(e) {
			runningCh <- e.Subject
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	// warm up: the image is pulled once, outside the measurement
	c.apply(b, "pod", podManifest("warm", "terminationGracePeriodSeconds: 0\ncontainers:\n- {name: c, image: "+image+", command: [sleep, '3600']}\n"))
	waitRunning(b, runningCh, "pod/default/warm")

	names := make([]string, *parallelPods)
	for i := range names {
		names[i] = fmt.Sprintf("par%03d", i)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.create(podManifest(name, "terminationGracePeriodSeconds: 0\ncontainers:\n- {name: c, image: "+image+", command: [sleep, '3600']}\n"))
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, name := range names {
		want["pod/default/"+name] = true
	}
	deadline := time.After(5 * time.Minute)
	for len(want) > 0 {
		select {
		case s := <-runningCh:
			delete(want, s)
		case <-deadline:
			b.Fatalf("%d pods not Running within 5 minutes", len(want))
		}
	}
	allRunning := time.Since(start)
	b.StopTimer()

	time.Sleep(5 * time.Second) // let the start-up burst settle
	if *agentProfile != "" {
		_ = cn.cmd.Process.Signal(syscall.SIGUSR2)
	}
	cpu0, t0 := cn.procCPU(b), time.Now()
	time.Sleep(*idleWindow)
	cpu, window := cn.procCPU(b)-cpu0, time.Since(t0)
	mem := cn.procRSS(b)
	st := cn.stats(b)
	share := float64(cpu) / float64(window) * 100
	b.ReportMetric(accepted.Seconds(), "s-all-accepted")
	b.ReportMetric(allRunning.Seconds(), "s-all-running")
	b.ReportMetric(share, "idle-cpu-%core")
	b.ReportMetric(mib(mem.RSS), "idle-rss-MiB")
	b.ReportMetric(mib(st.HeapInuse), "idle-heapinuse-MiB")
	b.Logf("%d pods: all accepted after %s, all Running after %s; idle agent over %s: CPU %s (%.2f%% of a core), %s, Go heap alloc %.1f MiB (live after a GC %.1f) in use %.1f MiB, stacks %.1f MiB, runtime sys %.1f MiB, %d goroutines; before any pod: %s",
		len(names), accepted.Round(time.Millisecond), allRunning.Round(time.Millisecond), window.Round(time.Millisecond), cpu, share,
		mem, mib(st.HeapAlloc), mib(st.HeapLive), mib(st.HeapInuse), mib(st.StackInuse), mib(st.Sys), st.Goroutines, memNoPods)

	for _, name := range append(names, "warm") {
		c.do(b, "pod", "delete", aggregates.Command{Name: name, GracePeriodSeconds: new(int64)})
	}
	for _, name := range append(names, "warm") {
		c.waitPod(b, name, 2*time.Minute, "gone", gone)
	}
	waitNoPods(b, cn.node)
}

func isRunningEvent(e bus.Envelope) bool {
	_, verb, _, _ := bus.ParseEventType(e.Type)
	if verb != aggregates.StatusChanged {
		return false
	}
	var d aggregates.StatusData
	var st corev1.PodStatus
	return json.Unmarshal(e.Data, &d) == nil && json.Unmarshal(d.Status, &st) == nil && st.Phase == corev1.PodRunning
}
