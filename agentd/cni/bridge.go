package cni

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"os/exec"
	"strings"
)

// PrepareBridge makes the pod bridge and gives it the gateway address (the
// pod CIDR's first host, as host-local hands out) before any pod exists,
// so node-local services — the cluster DNS — can listen on it from the
// start. It is idempotent. The bridge's MAC is fixed (derived from its
// name): a bridge whose MAC was never set takes the lowest MAC of its
// ports, which changes as pods come and go and leaves the pods' ARP
// entries for the gateway stale (the CNI bridge plugin pins it only when it
// adds the address itself).
func PrepareBridge(bridge, podCIDR string) (netip.Addr, error) {
	prefix, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("cni: pod CIDR %q: %w", podCIDR, err)
	}
	gw := prefix.Masked().Addr().Next()
	if err := ipCmd("link", "show", bridge); err != nil {
		if err := ipCmd("link", "add", bridge, "address", bridgeMAC(bridge), "type", "bridge"); err != nil {
			return netip.Addr{}, err
		}
	}
	addr := fmt.Sprintf("%s/%d", gw, prefix.Bits())
	if out, _ := exec.Command("ip", "-o", "addr", "show", "dev", bridge).Output(); !strings.Contains(string(out), " "+addr+" ") {
		if err := ipCmd("addr", "add", addr, "dev", bridge); err != nil {
			return netip.Addr{}, err
		}
	}
	return gw, ipCmd("link", "set", bridge, "up")
}

// bridgeMAC is a locally administered unicast MAC derived from the name.
func bridgeMAC(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func ipCmd(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("cni: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
