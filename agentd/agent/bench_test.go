package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// BenchmarkPodStart measures, per pod, the time from the create command's
// acceptance to the agent's Running status event (image present, one
// container), and in the same run a bare containerd create+start of the
// same image through the client (no Gantry, no network), alternating the
// two. Run with -benchtime=50x for 50 pods:
//
//	go test ./agentd/agent/ -run '^$' -bench PodStart -benchtime=50x
func BenchmarkPodStart(b *testing.B) {
	slow(b)
	c := startCluster(b)
	n := newNode(b, c)
	running := make(chan string, 64)
	sub, err := bus.SubscribeEvents(c.conn, func(e bus.Envelope) {
		_, verb, _, _ := bus.ParseEventType(e.Type)
		if verb != aggregates.StatusChanged {
			return
		}
		var d aggregates.StatusData
		var st corev1.PodStatus
		if json.Unmarshal(e.Data, &d) == nil && json.Unmarshal(d.Status, &st) == nil && st.Phase == corev1.PodRunning {
			running <- e.Subject
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	// warm up: the image is pulled once, outside the measurement
	c.apply(b, "pod", podManifest("warm", "containers:\n- {name: c, image: "+image+", command: [sleep, '3600']}\n"))
	c.waitPod(b, "warm", time.Minute, "running", running2)
	<-running
	img, err := daemon.Client.GetImage(namespaced(context.Background(), n.ns), normalized(image))
	if err != nil {
		b.Fatal(err)
	}

	var gantry, bare []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("p%03d", i)
		manifest := podManifest(name, "terminationGracePeriodSeconds: 0\ncontainers:\n- {name: c, image: "+image+", command: [sleep, '3600']}\n")
		c.apply(b, "pod", manifest) // returns once the command is accepted
		start := time.Now()
		waitRunning(b, running, "pod/default/"+name)
		gantry = append(gantry, time.Since(start))
		bare = append(bare, bareStart(b, n.ns, img, i))
	}
	b.StopTimer()
	g50, g99 := percentile(gantry, 50), percentile(gantry, 99)
	r50, r99 := percentile(bare, 50), percentile(bare, 99)
	b.ReportMetric(float64(g50.Microseconds())/1000, "gantry-p50-ms")
	b.ReportMetric(float64(g99.Microseconds())/1000, "gantry-p99-ms")
	b.ReportMetric(float64(r50.Microseconds())/1000, "bare-p50-ms")
	b.ReportMetric(float64(r99.Microseconds())/1000, "bare-p99-ms")
	b.ReportMetric(float64(g50)/float64(r50), "p50-ratio")
	b.ReportMetric(float64(g99)/float64(r99), "p99-ratio")
	b.Logf("%d pods: gantry p50 %s p99 %s; bare containerd p50 %s p99 %s; ratio p50 %.2f p99 %.2f",
		len(gantry), g50, g99, r50, r99, float64(g50)/float64(r50), float64(g99)/float64(r99))
	for i := 0; i < b.N; i++ {
		c.do(b, "pod", "delete", aggregates.Command{Name: fmt.Sprintf("p%03d", i), GracePeriodSeconds: new(int64)})
	}
	c.do(b, "pod", "delete", aggregates.Command{Name: "warm", GracePeriodSeconds: new(int64)})
	for i := 0; i < b.N; i++ {
		c.waitPod(b, fmt.Sprintf("p%03d", i), time.Minute, "gone", gone)
	}
	waitNoPods(b, n)
}

func running2(p *corev1.Pod) bool { return running(p) }

func waitRunning(b *testing.B, ch <-chan string, subject string) {
	deadline := time.After(time.Minute)
	for {
		select {
		case s := <-ch:
			if s == subject {
				return
			}
		case <-deadline:
			b.Fatalf("%s not Running within a minute", subject)
		}
	}
}

// bareStart creates and starts one container straight through the
// containerd client, then removes it (not timed).
func bareStart(b *testing.B, ns string, img client.Image, i int) time.Duration {
	ctx := namespaced(context.Background(), ns)
	id := fmt.Sprintf("bare-%d-%d", time.Now().UnixNano(), i)
	start := time.Now()
	ctr, err := daemon.Client.NewContainer(ctx, id, client.WithImage(img), client.WithNewSnapshot(id, img),
		client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sleep", "3600")))
	if err != nil {
		b.Fatal(err)
	}
	task, err := ctr.NewTask(ctx, cio.NullIO)
	if err == nil {
		err = task.Start(ctx)
	}
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	exited, _ := task.Wait(ctx)
	_ = task.Kill(ctx, syscall.SIGKILL)
	<-exited
	_, _ = task.Delete(ctx)
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		b.Fatal(err)
	}
	return took
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := (len(s)*p + 99) / 100 // nearest rank
	return s[max(idx-1, 0)]
}

func normalized(ref string) string { return ref } // a registry host:port reference is already normalized

func waitNoPods(b *testing.B, n *node) {
	for i := 0; i < 300; i++ {
		pods, err := n.rt.ListPods(context.Background())
		if err == nil && len(pods) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("pods left on the node after deleting them all")
}
