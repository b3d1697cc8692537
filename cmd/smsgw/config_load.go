package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smsgw/smsgw/config"
)

// loadConfig loads the configuration a command runs with: the file named by
// the --config persistent flag (none when empty), then SMSGW_* environment
// variables, then the command's flags that are set and bound to a key (see
// bindConfigFlags; a flag named like a key, e.g. --data-dir, binds itself).
// Invalid config returns *config.Problems; print it with printConfigError.
// Demo mode is the caller's choice (config.Config.ApplyDemo).
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	path, err := cmd.Flags().GetString("config")
	if err != nil {
		return config.Config{}, fmt.Errorf("--config: %w", err)
	}
	return config.Load(path, cmd.Flags())
}

// bindConfigFlags binds each flag (by name) of cmd to a config key (e.g.
// "listen" → "simulator.listen"), so a set flag overrides file and env.
// Call it right after defining the flags; an error means a misspelt flag or
// key.
func bindConfigFlags(cmd *cobra.Command, flagToKey map[string]string) error {
	for flag, key := range flagToKey {
		if err := config.BindFlag(cmd.Flags(), flag, key); err != nil {
			return err
		}
	}
	return nil
}
