package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

func historyCmd(g *globals) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "history KIND/NAME | KIND NAME",
		Short: "Every event of one object: when, who, what and why",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.onObject(args, func(client *bus.Client, k *aggregates.Kind, ns, name string) error {
				events, err := history(client, k.Token, ns, name)
				if err != nil {
					return err
				}
				return printEvents(g, events, output)
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "json for the events as stored")
	return c
}

func eventsCmd(g *globals) *cobra.Command {
	var output string
	var last int
	var follow bool
	c := &cobra.Command{
		Use:   "events [--follow] [--last N]",
		Short: "The cluster's latest events; --follow prints new ones as they are appended",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, client, err := g.connect()
			if err != nil {
				return err
			}
			defer conn.Close()
			var resp projections.EventsResponse
			if err := client.Query(ctx(), projections.QueryEvents, projections.EventsRequest{Last: last}, &resp); err != nil {
				return err
			}
			if err := printEvents(g, resp.Events, output); err != nil || !follow {
				return err
			}
			return followEvents(cmd, g, conn, output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "json for the events as stored")
	c.Flags().IntVar(&last, "last", 20, "how many past events to show")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events")
	return c
}

func followEvents(cmd *cobra.Command, g *globals, conn *bus.Conn, output string) error {
	events := make(chan projections.EventRecord, 1024)
	sub, err := bus.SubscribeEvents(conn, func(e bus.Envelope) {
		events <- projections.EventRecord{Time: e.Time, Type: e.Type, Subject: e.Subject, Source: e.Source, Actor: e.Actor, Reason: e.Reason, ID: e.ID, Data: e.Data}
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	for {
		select {
		case e := <-events:
			if err := printEvents(g, []projections.EventRecord{e}, output); err != nil {
				return err
			}
		case <-cmd.Context().Done():
			return nil
		}
	}
}

// printEvents prints events as a table (time, sequence, type, object,
// actor, why, what changed) or as JSON lines.
func printEvents(g *globals, events []projections.EventRecord, output string) error {
	if output == "json" {
		enc := json.NewEncoder(g.out)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(g.out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSEQ\tTYPE\tOBJECT\tACTOR\tREASON\tCHANGE")
	for _, e := range events {
		seq := "-"
		if e.Seq > 0 {
			seq = fmt.Sprint(e.Seq)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), seq, shortType(e.Type), e.Subject, or(e.Actor, e.Source), or(e.Reason, "-"), summary(e))
	}
	return tw.Flush()
}

func shortType(t string) string {
	return strings.TrimSuffix(strings.TrimPrefix(t, "dev.gantry."), ".v1")
}

// summary says in one line what an event changed.
func summary(e projections.EventRecord) string {
	if strings.HasSuffix(e.Type, ".created.v1") {
		return "(whole object)"
	}
	s := string(e.Data)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// history is every event of one object, oldest first.
func history(client *bus.Client, kind, ns, name string) ([]projections.EventRecord, error) {
	var resp projections.EventsResponse
	err := client.Query(ctx(), projections.QueryHistory, projections.HistoryRequest{Kind: kind, Namespace: ns, Name: name}, &resp)
	return resp.Events, err
}
