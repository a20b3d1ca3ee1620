package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// apiResourcesCmd is kubectl api-resources: every kind Gantry serves.
func apiResourcesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "api-resources",
		Short: "List the kinds of object Gantry serves",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tw := tabwriter.NewWriter(g.out, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND")
			for _, k := range g.kinds.Kinds() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", k.Plural, strings.Join(k.Aliases, ","), k.APIVersion(), k.Namespaced, k.Name)
			}
			return tw.Flush()
		},
	}
}
