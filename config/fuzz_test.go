package config

import (
	"errors"
	"testing"
)

// FuzzLoadYAML feeds arbitrary bytes to the loader: it must never panic,
// a config it accepts must validate, and a refusal must be ErrSyntax or
// *Problems with a path or message for each problem.
func FuzzLoadYAML(f *testing.F) {
	f.Add([]byte(validBase))
	f.Add([]byte(""))
	f.Add([]byte("smscs: [{name: a, tps: -1, tls: {enabled: yes}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := load(data, noEnv, nil)
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("load accepted a config Validate refuses: %v", verr)
			}
			_ = cfg.Redacted()
			demo := cfg
			demo.ApplyDemo()
			return
		}
		var ps *Problems
		switch {
		case errors.Is(err, ErrSyntax):
		case errors.As(err, &ps):
			if len(*ps) == 0 {
				t.Fatal("empty *Problems returned as an error")
			}
			for _, p := range *ps {
				if p.Message == "" {
					t.Fatalf("problem without message at %q", p.Path)
				}
			}
		default:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
	})
}
