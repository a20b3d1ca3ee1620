package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-sh/gantry/agentd/agent"
)

// portForwardCmd is kubectl port-forward for pods: each connection to a
// local port becomes a connection the pod's node agent makes to the pod.
func portForwardCmd(g *globals) *cobra.Command {
	var address string
	c := &cobra.Command{
		Use:   "port-forward POD [LOCAL_PORT:]REMOTE_PORT… [--address 127.0.0.1]",
		Short: "Forward local ports to a pod's ports, through its node's agent, until Ctrl-C",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			forwards, err := parseForwards(args[1:])
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			pod, err := g.podOnNode(ctx, client, strings.TrimPrefix(args[0], "pod/"))
			if err != nil {
				return err
			}
			grp, ctx := errgroup.WithContext(ctx)
			for _, f := range forwards {
				l, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(f.local)))
				if err != nil {
					return err
				}
				context.AfterFunc(ctx, func() { l.Close() })
				fmt.Fprintf(g.out, "Forwarding from %s -> %d\n", l.Addr(), f.remote)
				req := agent.PortForwardRequest{Namespace: pod.Namespace, Pod: pod.Name, Port: f.remote}
				grp.Go(func() error {
					for {
						local, err := l.Accept()
						if err != nil {
							if ctx.Err() != nil {
								return nil
							}
							return err
						}
						fmt.Fprintf(g.out, "Handling connection for %d\n", f.local)
						go func() {
							defer local.Close()
							if err := agent.PortForward(ctx, conn.NC, pod.Spec.NodeName, req, local); err != nil && ctx.Err() == nil {
								fmt.Fprintf(g.err, "error: port %d: %v\n", f.remote, err)
							}
						}()
					}
				})
			}
			return grp.Wait()
		},
	}
	c.Flags().StringVar(&address, "address", "127.0.0.1", "the local address to listen on")
	return c
}

// forward is one LOCAL:REMOTE pair (local 0: any free port).
type forward struct{ local, remote int }

// parseForwards reads kubectl's port pairs: REMOTE (the same port
// locally), LOCAL:REMOTE, or :REMOTE (a free local port).
func parseForwards(args []string) ([]forward, error) {
	var out []forward
	for _, a := range args {
		l, r, pair := strings.Cut(a, ":")
		if !pair {
			l, r = a, a
		}
		remote, err := strconv.Atoi(r)
		if err != nil || remote < 1 || remote > 65535 {
			return nil, fmt.Errorf("port-forward %q: the pod's port must be a number from 1 to 65535", a)
		}
		local := 0
		if l != "" {
			if local, err = strconv.Atoi(l); err != nil || local < 0 || local > 65535 {
				return nil, fmt.Errorf("port-forward %q: the local port must be a number from 0 to 65535", a)
			}
		}
		out = append(out, forward{local, remote})
	}
	return out, nil
}
