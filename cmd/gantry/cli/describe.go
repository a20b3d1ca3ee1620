package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/gantry-sh/gantry/projections"
)

func describeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe KIND/NAME | KIND NAME",
		Short: "Show one object in full, with its recent history",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, ns, name, err := g.target(args)
			if err != nil {
				return err
			}
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			var list projections.ListResponse
			if err := client.Query(ctx(), projections.QueryList, projections.ListRequest{Kind: k.Token, Namespace: ns, Name: name}, &list); err != nil {
				return err
			}
			y, err := yaml.JSONToYAML(list.Items[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%s\n", y)
			events, err := history(client, k.Token, ns, name)
			if err != nil {
				return err
			}
			if n := len(events); n > 10 {
				events = events[n-10:]
			}
			fmt.Fprintln(g.out, "Events:")
			return printEvents(g, events, "")
		},
	}
}
