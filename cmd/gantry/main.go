// Command gantry is Gantry's single binary: `gantry up` runs a whole
// cluster on one machine; the other verbs are its kubectl-like client.
package main

import (
	"os"

	"github.com/gantry-sh/gantry/cmd/gantry/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
