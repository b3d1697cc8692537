package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCmd runs the real command tree with args and returns stdout, stderr
// and the error Execute returned.
func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smsgw.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantErr   bool
		wantOut   string
		wantLines []string // each must appear on stderr
		notShown  []string // secrets that must not appear anywhere
	}{
		{name: "example is valid", args: []string{"--config", "../../smsgw.example.yaml"}, wantOut: "config OK\n"},
		{name: "no file", args: nil, wantOut: "config OK (no file: defaults and SMSGW_* environment)\n"},
		{name: "empty file", args: []string{"--config", "EMPTY"}, wantOut: "config OK\n"},
		{
			name:    "every problem with its path",
			args:    []string{"--config", "BAD"},
			wantErr: true,
			wantLines: []string{
				"foo: unknown key",
				"smscs[0].tps: must be 0 to 100000, is -3",
				"smscs[0].password: must be 0 to 8 characters, is 21",
				"webhooks[0].secret: must start with whsec_",
				"routes[0].smscs[0]: unknown SMSC \"nope\"",
				"5 problem(s)",
			},
			notShown: []string{"super-secret-password", "not-a-whsec-secret"},
		},
		{name: "env problem", args: nil, env: map[string]string{"SMSGW_HTTP_ADDR": "nowhere"}, wantErr: true, wantLines: []string{`http.addr: "nowhere" is not host:port`}},
		{name: "missing file", args: []string{"--config", "/nonexistent/smsgw.yaml"}, wantErr: true, wantLines: []string{"no such file"}},
		{name: "bad yaml", args: []string{"--config", "SYNTAX"}, wantErr: true, wantLines: []string{"invalid YAML"}},
	}
	files := map[string]string{
		"EMPTY": writeFile(t, ""),
		"BAD": writeFile(t, `
foo: 1
accounts: [{id: acme, api_keys: [acme-key-123]}]
smscs:
  - {name: a, addr: "127.0.0.1:2775", system_id: s, password: super-secret-password, tps: -3}
routes: [{prefix: "+", smscs: [nope]}]
webhooks: [{account: acme, url: "https://x.example/h", secret: not-a-whsec-secret}]
`),
		"SYNTAX": writeFile(t, "http: [\n"),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := []string{"config", "check"}
			for _, a := range tt.args {
				if f, ok := files[a]; ok {
					a = f
				}
				args = append(args, a)
			}
			out, errOut, err := runCmd(t, args...)
			if tt.wantErr {
				if !errors.Is(err, errSilent) {
					t.Fatalf("err = %v, want errSilent (exit 1); stderr:\n%s", err, errOut)
				}
			} else if err != nil {
				t.Fatalf("err = %v; stderr:\n%s", err, errOut)
			}
			if tt.wantOut != "" && out != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out, tt.wantOut)
			}
			for _, l := range tt.wantLines {
				if !strings.Contains(errOut, l) {
					t.Errorf("stderr lacks %q:\n%s", l, errOut)
				}
			}
			for _, s := range tt.notShown {
				if strings.Contains(out+errOut, s) {
					t.Errorf("output shows secret %q", s)
				}
			}
		})
	}
}

func TestBindConfigFlags(t *testing.T) {
	t.Setenv("SMSGW_SIMULATOR_TPS", "7")
	var got struct {
		listen string
		tps    int
	}
	cmd := &cobra.Command{
		Use: "sim",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			got.listen, got.tps = cfg.Simulator.Listen, cfg.Simulator.TPS
			return nil
		},
	}
	cmd.Flags().String("config", "", "")
	cmd.Flags().String("listen", "127.0.0.1:2775", "")
	if err := bindConfigFlags(cmd, map[string]string{"listen": "simulator.listen"}); err != nil {
		t.Fatal(err)
	}
	if err := bindConfigFlags(cmd, map[string]string{"listen": "simulator.lisen"}); err == nil {
		t.Error("binding a misspelt key did not fail")
	}
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.listen != "127.0.0.1:0" || got.tps != 7 {
		t.Errorf("listen %q tps %d, want the flag and the env", got.listen, got.tps)
	}
}
