package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/agentd/hollow"
	"github.com/gantry-sh/gantry/bus"
)

// hollowCmd runs fake nodes, kubemark-style (see agentd/hollow).
func hollowCmd(g *globals) *cobra.Command {
	var (
		n              int
		url, prefix    string
		labels, taints string
		opt            hollow.Options
	)
	c := &cobra.Command{
		Use:   "hollow --nodes N [--nats URL] [--node-labels k=v,…] [--node-taints k=v:Effect,…] [--start-delay D]",
		Short: "Run N hollow nodes in this process: they register, renew leases and report their pods running, without running them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opt.Labels, err = parseLabelList(labels); err != nil {
				return err
			}
			if taints != "" {
				if opt.Taints, _, err = parseTaintArgs(strings.Split(taints, ",")); err != nil {
					return err
				}
			}
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
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			conn, err := bus.Connect(url, "gantry-hollow")
			if err != nil {
				return err
			}
			defer conn.Close()
			fleet, err := hollow.NewFleet(ctx, conn, opt)
			if err != nil {
				return err
			}
			start := time.Now()
			if _, err := fleet.Start(ctx, prefix, n); err != nil {
				fleet.Stop()
				return err
			}
			fmt.Fprintf(g.out, "%d hollow nodes %s-0…%s-%d registered in %s; Ctrl-C stops them\n", n, prefix, prefix, n-1, time.Since(start).Round(time.Millisecond))
			<-ctx.Done()
			fleet.Stop()
			return nil
		},
	}
	f := c.Flags()
	f.IntVar(&n, "nodes", 1, "how many nodes")
	f.StringVar(&url, "nats", "", "NATS URL of the cluster (default: --server or the client config)")
	f.StringVar(&prefix, "name-prefix", "hollow", "node names are PREFIX-0, PREFIX-1, …")
	f.StringVar(&labels, "node-labels", "", "labels for every node: k=v,…")
	f.StringVar(&taints, "node-taints", "", "taints for every node: k=v:Effect,…")
	f.DurationVar(&opt.StartDelay, "start-delay", 0, "how long a bound pod takes to be reported running")
	f.DurationVar(&opt.RunFor, "run-for", time.Second, "how long pods that run to completion run")
	f.DurationVar(&opt.LeaseEvery, "lease-every", 2*time.Second, "lease renewal period")
	f.StringVar(&opt.CPU, "cpu", "32", "allocatable cpu of each node")
	f.StringVar(&opt.Memory, "memory", "128Gi", "allocatable memory of each node")
	f.IntVar(&opt.Pods, "max-pods", 110, "allocatable pods of each node")
	return c
}

func parseLabelList(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}
