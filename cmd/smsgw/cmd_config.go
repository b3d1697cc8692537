package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/smsgw/smsgw/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "config",
		Short:   "Work with the configuration file",
		Example: `  smsgw config check --config smsgw.yaml`,
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(newConfigCheckCmd())
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check [--config FILE]",
		Short: "Validate a config file (and SMSGW_* env) and print every problem with its key path",
		Long: "check loads the config exactly as serve, gateway and bridge do (file, then SMSGW_* environment, then flags)\n" +
			"and prints every problem as \"key.path: message\". It exits non-zero when there is any.\n" +
			"Secrets are never printed.",
		Example: `  # a file
  smsgw config check --config smsgw.yaml

  # a file plus the environment that will run with it
  SMSGW_NATS_URL=nats://nats-1:4222 smsgw config check --config smsgw.yaml

  # a bad file prints one line per problem and exits 1, e.g.
  #   smscs[0].addr: "nohost" is not host:port
  #   smscs[0].window: must be 1 to 1024, is -3
  #   2 problem(s)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("config")
			_, err := loadConfig(cmd)
			if err != nil {
				printConfigError(cmd.ErrOrStderr(), err)
				return errSilent
			}
			if path == "" {
				cmd.Println("config OK (no file: defaults and SMSGW_* environment)")
				return nil
			}
			cmd.Println("config OK")
			return nil
		},
	}
}

// printConfigError prints a config load error: each problem on its own
// line with its key path, or the error itself (unreadable file, bad YAML).
func printConfigError(w io.Writer, err error) {
	var ps *config.Problems
	if errors.As(err, &ps) {
		for _, p := range *ps {
			fmt.Fprintln(w, p.String())
		}
		fmt.Fprintf(w, "%d problem(s)\n", len(*ps))
		return
	}
	fmt.Fprintln(w, err)
}
