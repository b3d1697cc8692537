package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errSilent marks an error whose details the command already printed; it
// only sets the exit code.
var errSilent = errors.New("failed")

// exitCode is 1 for a failure unless the error names its own code (for
// example 2 for usage or connection errors of `smsgw send`); errSilent only
// suppresses the message.
func exitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// newRootCmd builds the command tree. Each subcommand lives in its own
// cmd_*.go file and is listed here.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "smsgw",
		Short:         "SMPP gateway with a signed, retrying webhook bridge",
		Long:          "smsgw binds to carrier SMSCs, stores every event in NATS JetStream and delivers them as signed webhooks.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		Example: `  # everything in one process, with the simulator as SMSC (what 'make run' starts)
  smsgw serve

  # send a message through it, and watch its events
  smsgw send --to +447700900123 --text "Hello from smsgw"
  smsgw events tail --format table

  # check a config file before deploying it
  smsgw config check --config smsgw.yaml`,
	}
	root.PersistentFlags().String("config", "", "path to the YAML config file (every key can also come from SMSGW_* env vars)")
	root.AddCommand(
		newVersionCmd(),
		newConfigCmd(),
		newGatewayCmd(),
		newServeCmd(),
		newBridgeCmd(),
		newSimulatorCmd(),
		newSendCmd(),
		newEventsCmd(),
		newBenchCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the smsgw version",
		Example: "  smsgw version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			cmd.Println("smsgw", version)
		},
	}
}
