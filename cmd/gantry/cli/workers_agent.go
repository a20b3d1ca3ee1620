package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/gantry-sh/gantry/agentd/cni"
)

// startLocalAgent starts the local node agent in `gantry up` when this
// machine can run pods (root, containerd reachable or startable, CNI
// plugins installed); otherwise it prints one warning line and `gantry up`
// carries on without it. `gantry up --agent=false` leaves it out.
func startLocalAgent(ctx context.Context, grp *errgroup.Group, cp controlPlane) error {
	if !cp.localAgent {
		return nil
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(cp.out, "warning: no local node agent: running pods needs root (network namespaces, mounts); pods bound to this machine stay Pending")
		return nil
	}
	host, _ := os.Hostname()
	o := agentOptions{nodeName: strings.ToLower(host), podCIDR: localPodCIDR, data: filepath.Join(cp.data, "agent"), clusterDNS: cp.nodeDNS}
	if o.nodeName == "" {
		o.nodeName = "localhost"
	}
	grp.Go(func() error {
		if err := runAgent(ctx, cp.conn, o); err != nil && ctx.Err() == nil {
			fmt.Fprintf(cp.out, "warning: no local node agent (pods will not run on this machine): %s\n", oneLine(err))
		}
		return nil
	})
	return nil
}

// The local node's pod network in `gantry up`: its CIDR and bridge (the
// agent's CNI network uses the default bridge name).
const (
	localPodCIDR = "10.244.0.0/24"
	localBridge  = "gantry0"
)

// prepareNodeBridge readies the local node's pod bridge with its gateway
// address, where the cluster DNS then also listens, so pods resolve
// service names from their first start. It returns the address, or ""
// when there is no local agent (not root, --agent=false) or it failed.
func prepareNodeBridge(cp controlPlane) string {
	if !cp.localAgent || os.Geteuid() != 0 || len(offToNil(cp.network.dns)) == 0 {
		return ""
	}
	gw, err := cni.PrepareBridge(localBridge, localPodCIDR)
	if err != nil {
		fmt.Fprintf(cp.out, "warning: pods will use the node's resolvers, not the cluster DNS: %s\n", oneLine(err))
		return ""
	}
	return gw.String()
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
