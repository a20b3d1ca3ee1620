package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// ErrNotFound is returned when a pod has no network attachment.
var ErrNotFound = errors.New("cni: pod network not found")

// PortMapping is a hostPort: traffic to the node's HostPort reaches the
// pod's ContainerPort.
type PortMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"` // "tcp" or "udp"
	HostIP        string `json:"hostIP,omitempty"`
}

// Attachment is one pod's network: its netns and its IP.
type Attachment struct {
	PodID string
	Netns string
	IP    net.IP
}

// Network attaches pods to the node's pod network.
type Network struct {
	cfg  Config
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList
	lo   *libcni.PluginConfig
}

// New checks the configuration and the plugins it needs.
func New(cfg Config) (*Network, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	raw, err := cfg.conflist()
	if err != nil {
		return nil, fmt.Errorf("cni: render config: %w", err)
	}
	list, err := libcni.ConfListFromBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("cni: parse config: %w", err)
	}
	lo, err := libcni.ConfFromBytes(loopbackConf())
	if err != nil {
		return nil, fmt.Errorf("cni: parse loopback config: %w", err)
	}
	n := &Network{cfg: cfg, cni: libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, cfg.cacheDir(), nil), list: list, lo: lo}
	return n, n.checkPlugins()
}

func (n *Network) checkPlugins() error {
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if _, err := invoke.FindInPath(p, n.cfg.PluginDirs); err != nil {
			return fmt.Errorf("cni: plugin %s not in %v (apt-get install -y containernetworking-plugins): %w",
				p, n.cfg.PluginDirs, err)
		}
	}
	return nil
}

// NetnsPath is where the pod's network namespace is pinned.
func (n *Network) NetnsPath(podID string) string {
	return filepath.Join(n.cfg.NetnsDir, n.cfg.NetnsPrefix+podID)
}

func (n *Network) runtimeConf(podID, netns string, ports []PortMapping) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID: podID,
		NetNS:       netns,
		IfName:      "eth0",
		Args:        [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_UID", podID}},
	}
	if len(ports) > 0 {
		rt.CapabilityArgs = map[string]any{"portMappings": ports}
	}
	return rt
}

// Setup creates the pod's netns and attaches it. Calling it again for an
// attached pod returns the existing attachment.
func (n *Network) Setup(ctx context.Context, podID string, ports []PortMapping) (Attachment, error) {
	if a, err := n.Get(podID); err == nil {
		return a, nil
	}
	path := n.NetnsPath(podID)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := createNetns(path); err != nil {
			return Attachment{}, fmt.Errorf("cni: pod %s: create netns: %w", podID, err)
		}
	}
	a, err := n.add(ctx, podID, path, ports)
	if err != nil {
		_ = n.Teardown(context.WithoutCancel(ctx), podID)
		return Attachment{}, err
	}
	return a, nil
}

func (n *Network) add(ctx context.Context, podID, path string, ports []PortMapping) (Attachment, error) {
	if _, err := n.cni.AddNetwork(ctx, n.lo, n.runtimeConf(podID, path, nil)); err != nil {
		return Attachment{}, fmt.Errorf("cni: pod %s: loopback: %w", podID, err)
	}
	res, err := n.cni.AddNetworkList(ctx, n.list, n.runtimeConf(podID, path, ports))
	if err != nil {
		return Attachment{}, fmt.Errorf("cni: pod %s: add: %w", podID, err)
	}
	ip, err := firstIP(res)
	if err != nil {
		return Attachment{}, fmt.Errorf("cni: pod %s: %w", podID, err)
	}
	return Attachment{PodID: podID, Netns: path, IP: ip}, nil
}

// Teardown detaches the pod, releases its IP and removes its netns. It is
// idempotent: tearing down a pod that is (partly) gone succeeds.
func (n *Network) Teardown(ctx context.Context, podID string) error {
	path := n.NetnsPath(podID)
	netns := path
	if _, err := os.Stat(path); err != nil {
		netns = "" // plugins still release IPs and iptables rules
	}
	rt := n.runtimeConf(podID, netns, nil)
	if _, cached, err := n.cni.GetNetworkListCachedConfig(n.list, rt); err == nil && cached != nil {
		rt.CapabilityArgs = cached.CapabilityArgs
	}
	if err := n.cni.DelNetworkList(ctx, n.list, rt); err != nil {
		return fmt.Errorf("cni: pod %s: del: %w", podID, err)
	}
	if err := n.cni.DelNetwork(ctx, n.lo, n.runtimeConf(podID, netns, nil)); err != nil {
		return fmt.Errorf("cni: pod %s: del loopback: %w", podID, err)
	}
	if err := removeNetns(path); err != nil {
		return fmt.Errorf("cni: pod %s: %w", podID, err)
	}
	return nil
}

// Get returns a pod's attachment from the netns and the libcni cache.
func (n *Network) Get(podID string) (Attachment, error) {
	path := n.NetnsPath(podID)
	if _, err := os.Stat(path); err != nil {
		return Attachment{}, fmt.Errorf("pod %s: %w", podID, ErrNotFound)
	}
	res, err := n.cni.GetNetworkListCachedResult(n.list, n.runtimeConf(podID, path, nil))
	if err != nil || res == nil {
		return Attachment{}, fmt.Errorf("pod %s: no cached result: %w", podID, ErrNotFound)
	}
	ip, err := firstIP(res)
	if err != nil {
		return Attachment{}, fmt.Errorf("cni: pod %s: %w", podID, err)
	}
	return Attachment{PodID: podID, Netns: path, IP: ip}, nil
}

// List returns the attachments of every pod this network set up, for
// adoption after an agent restart.
func (n *Network) List() ([]Attachment, error) {
	entries, err := os.ReadDir(n.cfg.NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cni: list %s: %w", n.cfg.NetnsDir, err)
	}
	var out []Attachment
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Name(), n.cfg.NetnsPrefix)
		if !ok {
			continue
		}
		if a, err := n.Get(id); err == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// AllocatedIPs lists the addresses host-local holds, to check for leaks.
func (n *Network) AllocatedIPs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(n.cfg.ipamDir(), n.cfg.Name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, e := range entries {
		if net.ParseIP(e.Name()) != nil {
			ips = append(ips, e.Name())
		}
	}
	return ips, nil
}

func firstIP(res types.Result) (net.IP, error) {
	conv, err := types100.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("convert CNI result: %w", err)
	}
	for _, ipc := range conv.IPs {
		if ipc.Address.IP.To4() != nil {
			return ipc.Address.IP, nil
		}
	}
	return nil, errors.New("CNI result has no IPv4 address")
}
