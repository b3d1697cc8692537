// Command smsgw is the SMPP gateway with its webhook bridge and SMSC
// simulator. main only turns OS signals into a context; everything else
// lives in run and the packages it wires together.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "smsgw:", err)
		}
		return exitCode(err)
	}
	return 0
}
