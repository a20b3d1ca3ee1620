package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

func topCmd(g *globals) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:       "top pods|nodes",
		Short:     "CPU and memory in use, from the agents' latest samples (cgroups, every 10 s)",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"pods", "nodes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			var top projections.TopResponse
			if err := client.Query(ctx(), projections.QueryTop, struct{}{}, &top); err != nil {
				return err
			}
			switch args[0] {
			case "pods", "pod", "po":
				ns := g.ns()
				if all {
					ns = ""
				}
				return printTopPods(g, top.Nodes, ns)
			case "nodes", "node", "no":
				return g.printTopNodes(client, top.Nodes)
			}
			return fmt.Errorf("top %q: want pods or nodes", args[0])
		},
	}
	c.Flags().BoolVarP(&all, "all-namespaces", "A", false, "pods of every namespace")
	return c
}

func podTotals(p bus.PodUsage) (milli int64, bytes uint64) {
	for _, c := range p.Containers {
		milli += c.CPUMillicores
		bytes += c.MemoryBytes
	}
	return milli, bytes
}

func printTopPods(g *globals, nodes []bus.NodeUsage, ns string) error {
	tw := tabwriter.NewWriter(g.out, 0, 8, 3, ' ', 0)
	head := "NAME\tCPU(cores)\tMEMORY(bytes)"
	if ns == "" {
		head = "NAMESPACE\t" + head
	}
	fmt.Fprintln(tw, head)
	n := 0
	for _, node := range nodes {
		for _, p := range node.Pods {
			if ns != "" && p.Namespace != ns {
				continue
			}
			milli, mem := podTotals(p)
			row := fmt.Sprintf("%s\t%dm\t%dMi", p.Name, milli, mem>>20)
			if ns == "" {
				row = p.Namespace + "\t" + row
			}
			fmt.Fprintln(tw, row)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(g.err, "No resources found (agents publish usage every 10 s).")
		return nil
	}
	return tw.Flush()
}

// printTopNodes sums each node's pods and compares with its allocatable.
func (g *globals) printTopNodes(client *bus.Client, nodes []bus.NodeUsage) error {
	var list projections.ListResponse
	if err := client.Query(ctx(), projections.QueryList, projections.ListRequest{Kind: "node"}, &list); err != nil {
		return err
	}
	alloc := map[string]corev1.ResourceList{}
	for _, raw := range list.Items {
		var n corev1.Node
		if json.Unmarshal(raw, &n) == nil {
			alloc[n.Name] = n.Status.Allocatable
		}
	}
	tw := tabwriter.NewWriter(g.out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCPU(cores)\tCPU%\tMEMORY(bytes)\tMEMORY%\tPODS")
	for _, node := range nodes {
		var milli int64
		var mem uint64
		for _, p := range node.Pods {
			m, b := podTotals(p)
			milli, mem = milli+m, mem+b
		}
		cpuPct, memPct := "<unknown>", "<unknown>"
		if a, ok := alloc[node.Node]; ok {
			if c := a.Cpu().MilliValue(); c > 0 {
				cpuPct = fmt.Sprintf("%d%%", milli*100/c)
			}
			if m := a.Memory().Value(); m > 0 {
				memPct = fmt.Sprintf("%d%%", int64(mem)*100/m)
			}
		}
		fmt.Fprintf(tw, "%s\t%dm\t%s\t%dMi\t%s\t%d\n", node.Node, milli, cpuPct, mem>>20, memPct, len(node.Pods))
	}
	return tw.Flush()
}
