package runtime

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/containerd/containerd/v2/core/snapshots"
)

func TestPodSharesNetworkAndExec(t *testing.T) {
	e := slow(t)
	p := e.runPod(t, "web")
	serve := `mkdir -p /www && echo hello-from-a > /www/index.html && exec httpd -f -p 8080 -h /www`
	e.start(t, p.UID, ContainerSpec{Container: e.container("a", "sh", "-c", serve)})
	fetch := `for i in $(seq 1 50); do wget -qO- http://127.0.0.1:8080/ && break; sleep 0.2; done; exec sleep 3600`
	e.start(t, p.UID, ContainerSpec{Container: e.container("b", "sh", "-c", fetch)})
	e.waitLog(t, p.UID, "b", "hello-from-a")

	if got := httpGet(t, "http://"+p.IP+":8080/"); !strings.Contains(got, "hello-from-a") {
		t.Fatalf("pod IP %s answered %q", p.IP, got)
	}
	var out bytes.Buffer
	code, err := e.rt.Exec(testCtx(t), p.UID, "b", ExecOptions{Cmd: []string{"sh", "-c", "echo out-$((40+2)); exit 3"}, Stdout: &out})
	if err != nil || code != 3 || strings.TrimSpace(out.String()) != "out-42" {
		t.Fatalf("exec = %d %q %v", code, out.String(), err)
	}
	out.Reset()
	code, err = e.rt.Exec(testCtx(t), p.UID, "b", ExecOptions{Cmd: []string{"cat"}, Stdin: strings.NewReader("piped"), Stdout: &out})
	if err != nil || code != 0 || out.String() != "piped" {
		t.Fatalf("exec with stdin = %d %q %v", code, out.String(), err)
	}
}

// httpGet tries a few times: the server may still be starting.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for i := 0; i < 20; i++ {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return ""
}

func TestExitCodesLogsAndPrevious(t *testing.T) {
	e := slow(t)
	p := e.runPod(t, "exits")
	e.start(t, p.UID, ContainerSpec{Container: e.container("c", "sh", "-c", "echo one; echo two; exit 1")})
	st := e.wait(t, p.UID, "c")
	if st.State != StateExited || st.ExitCode != 1 || st.Reason != ReasonError {
		t.Fatalf("status = %+v", st)
	}
	if st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Fatalf("times: started %v finished %v", st.StartedAt, st.FinishedAt)
	}
	e.start(t, p.UID, ContainerSpec{Container: e.container("c", "sh", "-c", "echo three"), Attempt: 1})
	st = e.wait(t, p.UID, "c")
	if st.ExitCode != 0 || st.Reason != ReasonCompleted || st.Attempt != 1 {
		t.Fatalf("attempt 1 status = %+v", st)
	}
	if got := e.logs(t, p.UID, "c", LogOptions{}); got != "three\n" {
		t.Fatalf("logs = %q", got)
	}
	if got := e.logs(t, p.UID, "c", LogOptions{Previous: true}); got != "one\ntwo\n" {
		t.Fatalf("previous logs = %q", got)
	}
	if got := e.logs(t, p.UID, "c", LogOptions{Previous: true, Tail: 1}); got != "two\n" {
		t.Fatalf("previous tail 1 = %q", got)
	}
}

func TestFollowLogs(t *testing.T) {
	e := slow(t)
	p := e.runPod(t, "follow")
	e.start(t, p.UID, ContainerSpec{Container: e.container("c", "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done")})
	var b bytes.Buffer
	if err := e.rt.Logs(testCtx(t), p.UID, "c", LogOptions{Follow: true}, &b); err != nil {
		t.Fatal(err)
	}
	if b.String() != "line1\nline2\nline3\n" {
		t.Fatalf("followed %q", b.String())
	}
}

func TestOOMKilled(t *testing.T) {
	e := slow(t)
	p := e.runPod(t, "oom")
	c := e.container("hog", "sh", "-c", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done")
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
	e.start(t, p.UID, ContainerSpec{Container: c})
	st := e.wait(t, p.UID, "hog")
	if st.Reason != ReasonOOMKilled || st.ExitCode != 137 {
		t.Fatalf("status = %+v", st)
	}
}

func TestStopGracePeriod(t *testing.T) {
	e := slow(t)
	p := e.runPod(t, "stop")
	trap := `trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done`
	ignore := `trap '' TERM; echo ready; while true; do sleep 0.1; done`
	e.start(t, p.UID, ContainerSpec{Container: e.container("polite", "sh", "-c", trap)})
	e.start(t, p.UID, ContainerSpec{Container: e.container("stubborn", "sh", "-c", ignore)})
	e.waitLog(t, p.UID, "polite", "ready")
	e.waitLog(t, p.UID, "stubborn", "ready")

	cases := []struct {
		name     string
		code     int
		min, max time.Duration
	}{
		{"polite", 0, 0, 5 * time.Second},
		{"stubborn", 137, 2 * time.Second, 10 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if err := e.rt.StopContainer(testCtx(t), p.UID, tc.name, 2*time.Second); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			st, err := e.rt.ContainerStatus(testCtx(t), p.UID, tc.name)
			if err != nil || st.State != StateExited || st.ExitCode != tc.code {
				t.Fatalf("status = %+v, %v", st, err)
			}
			if took < tc.min || took > tc.max {
				t.Fatalf("stop took %s, want between %s and %s", took, tc.min, tc.max)
			}
		})
	}
	e.waitLog(t, p.UID, "polite", "got-term")
}

func TestFilesEnvAndEtc(t *testing.T) {
	e := slow(t)
	p := e.runPod(t, "files")
	dir, err := e.rt.FilesDir(p.UID, "config", map[string][]byte{"greeting": []byte("hello")}, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	scratch, err := e.rt.EmptyDir(p.UID, "scratch", corev1.StorageMediumMemory, nil)
	if err != nil {
		t.Fatal(err)
	}
	script := `cat /etc/config/greeting; echo " $FOO"; cat /etc/hostname; grep nameserver /etc/resolv.conf; ` +
		`grep -c files /etc/hosts; echo x > /scratch/f && grep -q ' /scratch tmpfs' /proc/mounts && echo tmpfs-ok; pwd`
	c := e.container("c", "sh", "-c", script)
	c.WorkingDir = "/tmp"
	e.start(t, p.UID, ContainerSpec{Container: c,
		Env:    []corev1.EnvVar{{Name: "FOO", Value: "bar"}},
		Mounts: []Mount{{ContainerPath: "/etc/config", HostPath: dir, ReadOnly: true}, {ContainerPath: "/scratch", HostPath: scratch}}})
	if st := e.wait(t, p.UID, "c"); st.ExitCode != 0 {
		t.Fatalf("status %+v, logs %q", st, e.logs(t, p.UID, "c", LogOptions{}))
	}
	want := "hello bar\nfiles\nnameserver 10.96.0.10\n1\ntmpfs-ok\n/tmp\n"
	if got := e.logs(t, p.UID, "c", LogOptions{}); got != want {
		t.Fatalf("logs = %q, want %q", got, want)
	}
}

func TestImagePullErrors(t *testing.T) {
	e := slow(t)
	ctx := testCtx(t)
	registry := strings.SplitN(e.image, "/", 2)[0]
	err := e.rt.EnsureImage(ctx, registry+"/gantry/missing:v1", corev1.PullIfNotPresent)
	if !errors.Is(err, ErrImagePull) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing image: %v", err)
	}
	err = e.rt.EnsureImage(ctx, registry+"/gantry/missing:v1", corev1.PullNever)
	if !errors.Is(err, ErrImageNeverPull) {
		t.Fatalf("never pull: %v", err)
	}
	for _, policy := range []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever} {
		if err := e.rt.EnsureImage(ctx, e.image, policy); err != nil {
			t.Fatalf("%s: %v", policy, err)
		}
	}
}

func TestAdoptionAndNoLeaks(t *testing.T) {
	e := slow(t)
	ctx := testCtx(t)
	p := e.runPod(t, "adopt")
	e.start(t, p.UID, ContainerSpec{Container: e.container("sleeper", "sleep", "3600")})

	fresh, err := e.newRuntime()
	if err != nil {
		t.Fatal(err)
	}
	got := findPod(t, fresh, p.UID)
	if got.IP != p.IP || got.Name != "adopt" || len(got.Containers) != 1 || got.Containers[0].State != StateRunning {
		t.Fatalf("adopted %+v, want ip %s and a running sleeper", got, p.IP)
	}
	if err := fresh.RemovePod(ctx, p.UID); err != nil {
		t.Fatal(err)
	}
	assertNoLeaks(t, fresh, p)
}

func findPod(t *testing.T, rt *Containerd, uid string) PodInfo {
	t.Helper()
	pods, err := rt.ListPods(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if p.UID == uid {
			return p
		}
	}
	t.Fatalf("pod %s not listed among %d", uid, len(pods))
	return PodInfo{}
}

func assertNoLeaks(t *testing.T, rt *Containerd, p PodInfo) {
	t.Helper()
	ctx := rt.withNS(testCtx(t))
	if cs, err := rt.client.Containers(ctx, podFilter(p.UID)); err != nil || len(cs) != 0 {
		t.Errorf("containers left: %d, %v", len(cs), err)
	}
	tasks, err := rt.client.TaskService().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks.Tasks {
		if strings.HasPrefix(task.ID, p.UID) {
			t.Errorf("task left: %s", task.ID)
		}
	}
	err = rt.client.SnapshotService(rt.snapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if strings.HasPrefix(info.Name, p.UID) {
			t.Errorf("snapshot left: %s", info.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Netns); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns %s left: %v", p.Netns, err)
	}
	ips, _ := rt.net.AllocatedIPs()
	for _, ip := range ips {
		if ip == p.IP {
			t.Errorf("IP %s still allocated", ip)
		}
	}
	if _, err := os.Stat(rt.podDir(p.UID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pod dir left: %v", err)
	}
}

// TestRunPodStartsFirstContainers: containers handed to RunPod are created
// while the network is attached and run once it is, seeing the pod's IP in
// /etc/hosts; one that cannot be created (image missing) is left absent
// for StartContainer.
func TestRunPodStartsFirstContainers(t *testing.T) {
	e := slow(t)
	ctx := testCtx(t)
	spec := PodSpec{UID: uid(), Name: "first", Namespace: "test"}
	missing := strings.Replace(e.image, "/gantry/busybox:", "/gantry/missing:", 1)
	p, err := e.rt.RunPod(ctx, spec,
		ContainerSpec{Container: e.container("a", "sh", "-c", "cat /etc/hosts; ip -o addr show dev eth0; exec sleep 3600")},
		ContainerSpec{Container: corev1.Container{Name: "b", Image: missing, Command: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.rt.RemovePod(context.Background(), p.UID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if st, err := e.rt.ContainerStatus(ctx, p.UID, "a"); err != nil || st.State != StateRunning {
		t.Fatalf("a = %+v, %v; want running", st, err)
	}
	e.waitLog(t, p.UID, "a", p.IP+"\tfirst\n")
	e.waitLog(t, p.UID, "a", "inet "+p.IP+"/")
	if _, err := e.rt.ContainerStatus(ctx, p.UID, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b: %v; want ErrNotFound (left for StartContainer)", err)
	}
}
