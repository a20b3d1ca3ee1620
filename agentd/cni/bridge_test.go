package cni

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestPrepareBridge(t *testing.T) {
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("needs root and -short off: creates a bridge")
	}
	const br = "gantrybrt0"
	_ = exec.Command("ip", "link", "del", br).Run()
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", br).Run() })
	for range 2 { // idempotent
		gw, err := PrepareBridge(br, "10.244.79.0/24")
		if err != nil {
			t.Fatal(err)
		}
		if gw.String() != "10.244.79.1" {
			t.Fatalf("gateway %s, want 10.244.79.1", gw)
		}
	}
	out, err := exec.Command("ip", "-o", "addr", "show", "dev", br).Output()
	if err != nil || strings.Count(string(out), "10.244.79.1/24") != 1 {
		t.Fatalf("addresses: %s %v", out, err)
	}
	link, _ := exec.Command("ip", "-o", "link", "show", br).Output()
	if !strings.Contains(string(link), bridgeMAC(br)) || !strings.Contains(string(link), "UP") {
		t.Fatalf("link: %s", link)
	}
}
