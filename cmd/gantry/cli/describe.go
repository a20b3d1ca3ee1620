package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
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
			var obj json.RawMessage
			if err := fetch(client, k.Token, ns, name, &obj); err != nil {
				return err
			}
			y, err := yaml.JSONToYAML(obj)
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
