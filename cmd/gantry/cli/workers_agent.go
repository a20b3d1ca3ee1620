package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"
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
	o := agentOptions{nodeName: strings.ToLower(host), podCIDR: "10.244.0.0/24", data: filepath.Join(cp.data, "agent")}
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

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
