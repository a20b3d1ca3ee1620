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
	"github.com/containernetworking/cni/pkg/version"
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
	cfg   Config
	cni   *libcni.CNIConfig
	list  *libcni.NetworkConfigList // bridge + portmap: pods with hostPorts
	plain *libcni.NetworkConfigList // bridge alone: portmap has nothing to do without hostPorts
	lo    *libcni.PluginConfig      // only to tear down pods attached when lo was a plugin run
}

// New checks the configuration and the plugins it needs.
func New(cfg Config) (*Network, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	list, err := cfg.parsedList(true)
	if err != nil {
		return nil, err
	}
	plain, err := cfg.parsedList(false)
	if err != nil {
		return nil, err
	}
	lo, err := libcni.ConfFromBytes(loopbackConf())
	if err != nil {
		return nil, fmt.Errorf("cni: parse loopback config: %w", err)
	}
	// The exec is given, not left to libcni: it fills a nil one in on first
	// use without a lock, a data race between pods set up at once.
	exec := &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}, PluginDecoder: version.PluginDecoder{}}
	n := &Network{cfg: cfg, cni: libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, cfg.cacheDir(), exec), list: list, plain: plain, lo: lo}
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

// CreateNetns creates the pod's netns (lo up, nothing else) unless it
// exists, and returns its path: containers can be created in it before
// Setup attaches it. Teardown removes it.
func (n *Network) CreateNetns(podID string) (string, error) {
	path := n.NetnsPath(podID)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := createNetns(path); err != nil {
			return "", fmt.Errorf("cni: pod %s: create netns: %w", podID, err)
		}
	}
	return path, nil
}

// Setup creates the pod's netns if CreateNetns did not, and attaches it.
// Calling it again for an attached pod returns the existing attachment.
func (n *Network) Setup(ctx context.Context, podID string, ports []PortMapping) (Attachment, error) {
	if a, err := n.Get(podID); err == nil {
		return a, nil
	}
	path, err := n.CreateNetns(podID)
	if err != nil {
		return Attachment{}, err
	}
	a, err := n.add(ctx, podID, path, ports)
	if err != nil {
		_ = n.Teardown(context.WithoutCancel(ctx), podID)
		return Attachment{}, err
	}
	return a, nil
}

// add runs the plugins (lo is already up: createNetns). Both lists share
// the network's name, so the cached result and config are found the same
// way whichever was used.
func (n *Network) add(ctx context.Context, podID, path string, ports []PortMapping) (Attachment, error) {
	list := n.plain
	if len(ports) > 0 {
		list = n.list
	}
	res, err := n.cni.AddNetworkList(ctx, list, n.runtimeConf(podID, path, ports))
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
	list := n.plain
	if _, cached, err := n.cni.GetNetworkListCachedConfig(n.list, rt); err == nil && cached != nil && len(cached.CapabilityArgs) > 0 {
		rt.CapabilityArgs, list = cached.CapabilityArgs, n.list // DEL with what ADD had: portmap removes its rules
	}
	if err := n.cni.DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("cni: pod %s: del: %w", podID, err)
	}
	lo := n.runtimeConf(podID, netns, nil)
	if res, err := n.cni.GetNetworkCachedResult(n.lo, lo); err == nil && res != nil {
		if err := n.cni.DelNetwork(ctx, n.lo, lo); err != nil {
			return fmt.Errorf("cni: pod %s: del loopback: %w", podID, err)
		}
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
