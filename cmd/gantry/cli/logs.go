package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

func logsCmd(g *globals) *cobra.Command {
	var req agent.LogsRequest
	var selector string
	var prefix bool
	c := &cobra.Command{
		Use:   "logs POD | KIND/NAME | -l SELECTOR [-c CONTAINER] [-f] [--prefix]",
		Short: "Print a container's log, fetched from its node's agent (-f follows it); a workload's: one of its pods'; -l: every matching pod's",
		Args:  cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (selector != "") {
				return fmt.Errorf("logs: name a pod (or KIND/NAME), or select pods with -l, not both")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			var pods []*corev1.Pod
			if selector != "" {
				if pods, err = g.selectPods(client, selector); err != nil {
					return err
				}
			} else {
				pod, err := g.logsTarget(ctx, client, args[0])
				if err != nil {
					return err
				}
				pods = []*corev1.Pod{pod}
			}
			if req.Tail < 0 {
				req.Tail = 0 // all
			}
			err = g.podLogs(ctx, conn.NC, pods, req, prefix)
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
	f.StringVarP(&selector, "selector", "l", "", "every pod matching this label selector")
	f.BoolVar(&prefix, "prefix", false, "begin each line with [pod/NAME/CONTAINER]")
	return c
}

// logsTarget is the pod a logs argument names: a pod (NAME, pod/NAME), or
// for a workload (deployment/NAME, …) one of its bound pods, by name, as
// kubectl picks one.
func (g *globals) logsTarget(ctx context.Context, client *bus.Client, arg string) (*corev1.Pod, error) {
	kname, name, slash := strings.Cut(arg, "/")
	if !slash {
		return g.podOnNode(ctx, client, arg)
	}
	k, err := g.kind(kname)
	if err != nil {
		return nil, err
	}
	if k.Token == "pod" {
		return g.podOnNode(ctx, client, name)
	}
	sel, err := selectorOf(client, k, g.ns(), name)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	pods, err := g.selectPods(client, labels.SelectorFromSet(sel).String())
	if err != nil {
		return nil, err
	}
	if len(pods) > 1 {
		fmt.Fprintf(g.err, "Found %d pods, using pod/%s\n", len(pods), pods[0].Name)
	}
	return pods[0], nil
}

// selectPods lists the bound pods of the namespace matching selector, by
// name.
func (g *globals) selectPods(client *bus.Client, selector string) ([]*corev1.Pod, error) {
	k, err := g.kind("pod")
	if err != nil {
		return nil, err
	}
	items, _, err := g.list(client, k, "", getOptions{selector: selector})
	if err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	for _, raw := range items {
		p := &corev1.Pod{}
		if err := json.Unmarshal(raw, p); err != nil {
			return nil, err
		}
		if p.Spec.NodeName != "" {
			pods = append(pods, p)
		}
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no pod bound to a node matches %s in namespace %s", selector, g.ns())
	}
	return pods, nil
}

// podLogs copies each pod's log (one after another, or all at once when
// following) to g.out, each line prefixed with its pod and container when
// prefix is set.
func (g *globals) podLogs(ctx context.Context, nc *nats.Conn, pods []*corev1.Pod, req agent.LogsRequest, prefix bool) error {
	var mu sync.Mutex // whole lines, never interleaved
	grp, ctx := errgroup.WithContext(ctx)
	for _, pod := range pods {
		r := req
		r.Namespace, r.Pod = pod.Namespace, pod.Name
		var err error
		if r.Container, err = g.pickContainer(pod, req.Container); err != nil {
			return err
		}
		out := io.Writer(g.out)
		if prefix {
			out = &linePrefixer{w: g.out, mu: &mu, prefix: "[pod/" + pod.Name + "/" + r.Container + "] "}
		}
		run := func() error { return agent.Logs(ctx, nc, pod.Spec.NodeName, r, out) }
		if !req.Follow {
			if err := run(); err != nil {
				return err
			}
			continue
		}
		grp.Go(run)
	}
	return grp.Wait()
}

// linePrefixer writes whole lines, each with a prefix.
type linePrefixer struct {
	w       io.Writer
	mu      *sync.Mutex
	prefix  string
	partial []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		if _, err := fmt.Fprintf(l.w, "%s%s", l.prefix, l.partial[:i+1]); err != nil {
			return 0, err
		}
		l.partial = l.partial[i+1:]
	}
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
