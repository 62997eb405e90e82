// Command vigil is Vigil's one binary: the pipeline, the demo and the admin
// commands. The work is done in internal/cli and the packages it wires.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigilhealth/vigil/internal/cli"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
