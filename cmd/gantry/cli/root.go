// Package cli is the gantry command line: flags, wiring and output. The
// rules live in aggregates, the reads in projections, the wire in bus.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// globals are the flags every client verb shares.
type globals struct {
	config    string
	server    string
	namespace string
	all       bool
	in        io.Reader
	out, err  io.Writer
	kinds     *aggregates.Registry
}

// Main runs the gantry command line and returns the exit code.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	g := &globals{in: in, out: out, err: errOut, kinds: aggregates.Builtin()}
	root := &cobra.Command{
		Use:           "gantry",
		Short:         "Gantry: a container orchestrator whose every change is an event on NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", defaultConfigPath(), "client config written by `gantry up`")
	pf.StringVar(&g.server, "server", "", "NATS URL of the cluster (default: from the config)")
	pf.StringVarP(&g.namespace, "namespace", "n", "", "namespace (default: default)")
	root.AddCommand(upCmd(g), applyCmd(g), getCmd(g), describeCmd(g), deleteCmd(g), historyCmd(g), eventsCmd(g), scaleCmd(g), labelCmd(g), annotateCmd(g), patchCmd(g), createCmd(g), runCmd(g), exposeCmd(g), waitCmd(g), portForwardCmd(g), apiResourcesCmd(g), editCmd(g), diffCmd(g), cpCmd(g), agentCmd(g), logsCmd(g), execCmd(g), rolloutCmd(g), setCmd(g), cordonCmd(g, true), cordonCmd(g, false), drainCmd(g), taintCmd(g), hollowCmd(g), topCmd(g))
	if err := root.Execute(); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			return int(code)
		}
		fmt.Fprintln(errOut, "error:", message(err))
		return 1
	}
	return 0
}

// exitCode ends the command with this code and no message (Main turns
// any other error into 1 and its message).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// message is what a user reads for an error: a Kubernetes status error's
// own message, as kubectl prints it.
func message(err error) string {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return se.ErrStatus.Message
	}
	return err.Error()
}

// connect opens a client connection to the cluster named by flags or config.
func (g *globals) connect() (*bus.Conn, *bus.Client, error) {
	url := g.server
	if url == "" {
		cfg, err := loadConfig(g.config)
		if err != nil {
			return nil, nil, err
		}
		url = cfg.Server
	}
	conn, err := bus.Connect(url, "gantry-cli")
	if err != nil {
		return nil, nil, fmt.Errorf("%w (start a cluster with `gantry up`, or pass --server)", err)
	}
	return conn, bus.NewClient(conn, bus.Identity{Source: "user/" + username()}), nil
}

func (g *globals) ns() string {
	if g.namespace == "" {
		return "default"
	}
	return g.namespace
}

func (g *globals) kind(name string) (*aggregates.Kind, error) {
	k, ok := g.kinds.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("the server doesn't have a resource type %q", name)
	}
	return k, nil
}

func username() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	return "unknown"
}

func ctx() context.Context { return context.Background() }
