package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

func logsCmd(g *globals) *cobra.Command {
	var req agent.LogsRequest
	c := &cobra.Command{
		Use:   "logs POD [-c CONTAINER]",
		Short: "Print a container's log, fetched from its node's agent (-f follows it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
			req.Namespace, req.Pod = pod.Namespace, pod.Name
			if req.Container, err = g.pickContainer(pod, req.Container); err != nil {
				return err
			}
			if req.Tail < 0 {
				req.Tail = 0 // all
			}
			err = agent.Logs(ctx, conn.NC, pod.Spec.NodeName, req, g.out)
			if ctx.Err() != nil {
				return nil // interrupted while following
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVarP(&req.Container, "container", "c", "", "container (default: the first)")
	f.BoolVarP(&req.Follow, "follow", "f", false, "stream new output until the container exits")
	f.BoolVarP(&req.Previous, "previous", "p", false, "the log of the previous attempt of a restarted container")
	f.IntVar(&req.Tail, "tail", -1, "lines from the end (-1: all)")
	return c
}

// podOnNode reads a pod through the query API and checks it is bound.
func (g *globals) podOnNode(ctx context.Context, client *bus.Client, name string) (*corev1.Pod, error) {
	var resp projections.ListResponse
	if err := client.Query(ctx, projections.QueryList, projections.ListRequest{Kind: "pod", Namespace: g.ns(), Name: name}, &resp); err != nil {
		return nil, err
	}
	pod := &corev1.Pod{}
	if len(resp.Items) == 0 || json.Unmarshal(resp.Items[0], pod) != nil {
		return nil, fmt.Errorf("pods %q not found", name)
	}
	if pod.Spec.NodeName == "" {
		return nil, fmt.Errorf("pod %s/%s is not bound to a node yet", pod.Namespace, pod.Name)
	}
	return pod, nil
}

// pickContainer checks the named container, or defaults to the first as
// kubectl does (saying so when there are several).
func (g *globals) pickContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.Name == name {
			return name, nil
		}
		names = append(names, c.Name)
	}
	if name != "" {
		return "", fmt.Errorf("container %s is not valid for pod %s; choose one of: %s", name, pod.Name, strings.Join(names, " "))
	}
	first := pod.Spec.Containers[0].Name
	if len(pod.Spec.Containers) > 1 {
		fmt.Fprintf(g.err, "Defaulted container %q out of: %s\n", first, strings.Join(names, ", "))
	}
	return first, nil
}
