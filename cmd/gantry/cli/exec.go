package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/bus"
)

func execCmd(g *globals) *cobra.Command {
	var req agent.ExecRequest
	c := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [ARG...]",
		Short: "Run a command in a running container, through its node's agent; exits with the command's exit code",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash != 1 {
				return fmt.Errorf("usage: gantry exec POD [-c CONTAINER] -- COMMAND [ARG...]")
			}
			code, err := g.exec(strings.TrimPrefix(args[0], "pod/"), args[1:], req)
			if err != nil {
				return err
			}
			if code != 0 {
				return exitCode(code) // the command's exit code is gantry's, as with kubectl
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&req.Container, "container", "c", "", "container (default: the first)")
	f.BoolVarP(&req.Stdin, "stdin", "i", false, "pass stdin to the command")
	f.BoolVarP(&req.TTY, "tty", "t", false, "allocate a terminal, with -i (no window resizing)")
	return c
}

func (g *globals) exec(name string, command []string, req agent.ExecRequest) (int, error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	conn, client, err := g.connect()
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	req.Command = command
	pod, err := g.execTarget(ctx, client, name, &req)
	if err != nil {
		return -1, err
	}
	var in io.Reader
	if req.Stdin {
		in = g.in
	}
	// As kubectl: a terminal only with -i, since raw mode passes ^C on as a
	// byte, and without -i no byte reaches the command to interrupt it.
	if f, ok := g.in.(*os.File); ok && req.TTY && req.Stdin && term.IsTerminal(int(f.Fd())) {
		old, err := term.MakeRaw(int(f.Fd()))
		if err == nil {
			defer term.Restore(int(f.Fd()), old)
		}
	} else {
		req.TTY = false // no terminal to drive one
	}
	return agent.Exec(ctx, conn.NC, pod.Spec.NodeName, req, in, g.out, g.err)
}

// execTarget finds the pod an exec goes to and fills in req's namespace,
// pod and container (default: the first).
func (g *globals) execTarget(ctx context.Context, client *bus.Client, name string, req *agent.ExecRequest) (*corev1.Pod, error) {
	pod, err := g.podOnNode(ctx, client, name)
	if err != nil {
		return nil, err
	}
	req.Namespace, req.Pod = pod.Namespace, pod.Name
	if req.Container, err = g.pickContainer(pod, req.Container); err != nil {
		return nil, err
	}
	return pod, nil
}
