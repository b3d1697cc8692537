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
		Use:   "config",
		Short: "Work with the configuration file",
		Args:  cobra.NoArgs,
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
