package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func uid() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "uid-" + hex.EncodeToString(b)
}

// runPod sets a pod up and removes it when the test ends, even on failure.
func (e *testEnv) runPod(t *testing.T, name string) PodInfo {
	t.Helper()
	ctx := testCtx(t)
	spec := PodSpec{UID: uid(), Name: name, Namespace: "test",
		DNS: DNSConfig{Nameservers: []string{"10.96.0.10"}, Searches: []string{"test.svc.cluster.local"}}}
	p, err := e.rt.RunPod(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.rt.RemovePod(context.Background(), p.UID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return p
}

func (e *testEnv) container(name string, cmd ...string) corev1.Container {
	return corev1.Container{Name: name, Image: e.image, Command: cmd}
}

func (e *testEnv) start(t *testing.T, uid string, cs ContainerSpec) {
	t.Helper()
	if err := e.rt.StartContainer(testCtx(t), uid, cs); err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) wait(t *testing.T, uid, name string) ContainerStatus {
	t.Helper()
	st, err := e.rt.WaitContainer(testCtx(t), uid, name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *testEnv) logs(t *testing.T, uid, name string, opts LogOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := e.rt.Logs(testCtx(t), uid, name, opts, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// waitLog polls a container's log for want, at most 100 times over 20s.
func (e *testEnv) waitLog(t *testing.T, uid, name, want string) string {
	t.Helper()
	var got string
	for i := 0; i < 100; i++ {
		got = e.logs(t, uid, name, LogOptions{})
		if strings.Contains(got, want) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("container %s log never contained %q; got %q", name, want, got)
	return ""
}
