package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/agentd/cni"
	agentcd "github.com/gantry-sh/gantry/agentd/containerd"
	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/bus"
)

// systemContainerd is where a system containerd answers on Debian.
const systemContainerd = "/run/containerd/containerd.sock"

type agentOptions struct {
	nats       string
	nodeName   string
	labels     string
	taints     string
	podCIDR    string
	containerd string
	data       string
	clusterDNS string
	nodeIP     string
}

func agentCmd(g *globals) *cobra.Command {
	o := agentOptions{}
	c := &cobra.Command{
		Use:   "agent",
		Short: "Run the node agent: register this machine as a Node and run the pods bound to it on containerd",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			url := o.nats
			if url == "" {
				url = g.server
			}
			if url == "" {
				cfg, err := loadConfig(g.config)
				if err != nil {
					return err
				}
				url = cfg.Server
			}
			agent.TuneProcessGC()
			conn, err := bus.Connect(url, "gantry-agent")
			if err != nil {
				return err
			}
			defer conn.Close()
			fmt.Fprintf(g.out, "gantry agent: node %s, NATS %s\n", o.nodeName, url)
			return runAgent(ctx, conn, o)
		},
	}
	host, _ := os.Hostname()
	f := c.Flags()
	f.StringVar(&o.nats, "nats", "", "NATS URL of the cluster (default: --server or the client config)")
	f.StringVar(&o.nodeName, "node-name", strings.ToLower(host), "name of this Node")
	f.StringVar(&o.labels, "node-labels", "", "labels to set on the Node: k=v,…")
	f.StringVar(&o.taints, "node-taints", "", "taints to register the Node with: k=v:Effect,…")
	f.StringVar(&o.podCIDR, "pod-cidr", "10.244.0.0/24", "this node's pod network")
	f.StringVar(&o.containerd, "containerd-address", "", "containerd socket (default: "+systemContainerd+" if it answers, else an own containerd under --data)")
	f.StringVar(&o.data, "data", filepath.Join(gantryHome(), "agent"), "agent data directory (pods, logs, CNI state, an own containerd)")
	f.StringVar(&o.clusterDNS, "cluster-dns", "", "cluster DNS server IPs for pods' resolv.conf, comma-separated (default: the node's resolv.conf)")
	f.StringVar(&o.nodeIP, "node-ip", "", "the node's InternalIP (default: first global IPv4 address)")
	return c
}

// runAgent sets up containerd, the pod network and the runtime, and runs
// the agent until ctx ends. Pods keep running when it returns.
func runAgent(ctx context.Context, conn *bus.Conn, o agentOptions) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	d, err := ensureContainerd(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close()
	nw, err := cni.New(cni.Config{Subnet: o.podCIDR, IPMasq: true, DataDir: filepath.Join(o.data, "cni")})
	if err != nil {
		return err
	}
	rt, err := runtime.New(runtime.Options{Client: d.Client, Namespace: containerdNamespace(o.nodeName), DataDir: filepath.Join(o.data, "pods"), Network: nw})
	if err != nil {
		return err
	}
	a, err := agent.New(conn, rt, cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// ensureContainerd uses the given address, else a system containerd, else
// starts one under the data directory.
func ensureContainerd(ctx context.Context, o agentOptions) (*agentcd.Daemon, error) {
	own := filepath.Join(o.data, "containerd")
	if o.containerd != "" {
		return agentcd.Ensure(ctx, agentcd.Options{Address: o.containerd, DataDir: own})
	}
	if d, err := agentcd.Ensure(ctx, agentcd.Options{Address: systemContainerd}); err == nil {
		return d, nil
	}
	return agentcd.Ensure(ctx, agentcd.Options{DataDir: own})
}

func (o agentOptions) config() (agent.Config, error) {
	cfg := agent.Config{NodeName: o.nodeName, PodCIDR: o.podCIDR, NodeIP: o.nodeIP,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if o.nodeName == "" {
		return cfg, errors.New("--node-name is required")
	}
	labels, err := parseLabels(o.labels)
	if err != nil {
		return cfg, err
	}
	cfg.Labels = labels
	if cfg.Taints, err = parseTaints(o.taints); err != nil {
		return cfg, err
	}
	if o.clusterDNS != "" {
		cfg.ClusterDNS = strings.Split(o.clusterDNS, ",")
	}
	return cfg, nil
}

func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--node-labels: %q is not key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// parseTaints reads key[=value]:Effect items.
func parseTaints(s string) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, item := range splitList(s) {
		kv, effect, ok := strings.Cut(item, ":")
		k, v, _ := strings.Cut(kv, "=")
		switch corev1.TaintEffect(effect) {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			ok = false
		}
		if !ok || k == "" {
			return nil, fmt.Errorf("--node-taints: %q is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute", item)
		}
		out = append(out, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// containerdNamespace is the agent's own containerd namespace.
func containerdNamespace(node string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(node) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	return "gantry-" + strings.Trim(b.String(), "-.")
}
