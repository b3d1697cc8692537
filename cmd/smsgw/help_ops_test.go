package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpHasExamples runs `--help` on every command and wants its usage
// and at least one example (issue 7: helpful --help on every command).
func TestHelpHasExamples(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(newRootCmd(), nil)
	want := []string{"serve", "gateway", "bridge", "simulator", "send", "bench", "events tail", "config check", "version"}
	seen := map[string]bool{}
	for _, p := range paths {
		seen[strings.Join(p, " ")] = true
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no command %q", w)
		}
	}
	for _, p := range paths {
		name := strings.Join(append([]string{"smsgw"}, p...), " ")
		t.Run(name, func(t *testing.T) {
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(append(append([]string(nil), p...), "--help"))
			if err := root.Execute(); err != nil {
				t.Fatalf("%s --help: %v", name, err)
			}
			help := out.String()
			for _, s := range []string{"Usage:", "Examples:", "  smsgw"} {
				if !strings.Contains(help, s) {
					t.Errorf("%s --help lacks %q:\n%s", name, s, help)
				}
			}
		})
	}
}
