package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

// Config describes the node's pod network.
type Config struct {
	// Name of the CNI network (also host-local's allocation directory).
	Name string
	// Bridge is the Linux bridge pods attach to (default "gantry0").
	Bridge string
	// Subnet is the node's pod CIDR, e.g. "10.244.1.0/24".
	Subnet string
	// IPMasq masquerades pod traffic leaving the node (needs iptables).
	IPMasq bool
	// PluginDirs default to /usr/lib/cni and /opt/cni/bin.
	PluginDirs []string
	// DataDir holds the libcni cache and host-local allocations.
	DataDir string
	// NetnsDir holds the named network namespaces (default /var/run/netns).
	NetnsDir string
	// NetnsPrefix starts every netns name this network creates (default "gantry-").
	NetnsPrefix string
}

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = "gantry"
	}
	if c.Bridge == "" {
		c.Bridge = "gantry0"
	}
	if len(c.PluginDirs) == 0 {
		c.PluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	if c.NetnsDir == "" {
		c.NetnsDir = "/var/run/netns"
	}
	if c.NetnsPrefix == "" {
		c.NetnsPrefix = "gantry-"
	}
	if c.DataDir == "" {
		return c, errors.New("cni: Config.DataDir is required")
	}
	if _, _, err := net.ParseCIDR(c.Subnet); err != nil {
		return c, fmt.Errorf("cni: Config.Subnet %q: %w", c.Subnet, err)
	}
	return c, nil
}

func (c Config) cacheDir() string { return filepath.Join(c.DataDir, "cache") }
func (c Config) ipamDir() string  { return filepath.Join(c.DataDir, "ipam") }

func (c Config) parsedList(portmap bool) (*libcni.NetworkConfigList, error) {
	raw, err := c.conflist(portmap)
	if err != nil {
		return nil, fmt.Errorf("cni: render config: %w", err)
	}
	list, err := libcni.ConfListFromBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("cni: parse config: %w", err)
	}
	return list, nil
}

// conflist renders the network configuration list: the bridge with
// host-local addresses, then portmap for hostPorts when asked for.
func (c Config) conflist(portmap bool) ([]byte, error) {
	plugins := []map[string]any{
		{
			"type":        "bridge",
			"bridge":      c.Bridge,
			"isGateway":   true,
			"ipMasq":      c.IPMasq,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": c.Subnet}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": c.ipamDir(),
			},
		},
	}
	if portmap {
		plugins = append(plugins, map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true})
	}
	return json.Marshal(map[string]any{
		"cniVersion": "1.0.0",
		"name":       c.Name,
		"plugins":    plugins,
	})
}

// loopbackConf brings up lo inside the pod's netns.
func loopbackConf() []byte {
	return []byte(`{"cniVersion":"1.0.0","name":"gantry-lo","type":"loopback"}`)
}
