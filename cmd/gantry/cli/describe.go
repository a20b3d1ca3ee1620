package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

func describeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe KIND/NAME | KIND NAME",
		Short: "Show one object in full, with its recent history",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.onObject(args, func(client *bus.Client, k *aggregates.Kind, ns, name string) error {
				_, y, err := fetchYAML(client, k, ns, name)
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
			})
		},
	}
}
