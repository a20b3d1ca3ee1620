package cni

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// testNetwork uses a bridge, CIDR and netns dir of its own and removes the
// bridge when the test ends.
func testNetwork(t *testing.T) *Network {
	t.Helper()
	if testing.Short() {
		t.Skip("creates a bridge and network namespaces")
	}
	n, err := New(Config{
		Name:     "gantry-cni-test",
		Bridge:   "gantrycnit0",
		Subnet:   "10.244.78.0/24",
		DataDir:  t.TempDir(),
		NetnsDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", "gantrycnit0").Run() })
	return n
}

func TestSetupTeardown(t *testing.T) {
	n := testNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := n.Setup(ctx, "pod-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Teardown(context.Background(), "pod-a") })
	_, subnet, _ := net.ParseCIDR("10.244.78.0/24")
	if !subnet.Contains(a.IP) {
		t.Fatalf("ip %s outside %s", a.IP, subnet)
	}
	again, err := n.Setup(ctx, "pod-a", nil)
	if err != nil || !again.IP.Equal(a.IP) {
		t.Fatalf("second Setup: %v, %v", again.IP, err)
	}
	list, err := n.List()
	if err != nil || len(list) != 1 || !list[0].IP.Equal(a.IP) {
		t.Fatalf("List = %v, %v", list, err)
	}
	for i := 0; i < 2; i++ { // teardown twice: idempotent
		if err := n.Teardown(ctx, "pod-a"); err != nil {
			t.Fatalf("teardown %d: %v", i, err)
		}
	}
	ips, err := n.AllocatedIPs()
	if err != nil || len(ips) != 0 {
		t.Fatalf("leaked IPs %v, %v", ips, err)
	}
	if list, _ := n.List(); len(list) != 0 {
		t.Fatalf("leaked attachments %v", list)
	}
}

// TestCreateNetnsThenSetup: CreateNetns makes a netns whose lo is up with
// 127.0.0.1 (no loopback plugin run), Setup attaches that same netns, and
// Teardown removes it.
func TestCreateNetnsThenSetup(t *testing.T) {
	n := testNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path, err := n.CreateNetns("pod-b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Teardown(context.Background(), "pod-b") })
	out, err := exec.Command("nsenter", "--net="+path, "ip", "-o", "addr", "show", "dev", "lo").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "inet 127.0.0.1/8") {
		t.Fatalf("lo in the new netns: %v\n%s", err, out)
	}
	a, err := n.Setup(ctx, "pod-b", nil)
	if err != nil || a.Netns != path {
		t.Fatalf("Setup = %+v, %v; want netns %s", a, err, path)
	}
	if err := n.Teardown(ctx, "pod-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("netns %s left: %v", path, err)
	}
	if ips, _ := n.AllocatedIPs(); len(ips) != 0 {
		t.Fatalf("leaked IPs %v", ips)
	}
}
