package config

import (
	"os"
	"testing"
)

// BenchmarkLoadExample measures a full load of smsgw.example.yaml: YAML
// parse, env lookup for every key, decode, unknown-key walk, validation.
func BenchmarkLoadExample(b *testing.B) {
	data, err := os.ReadFile("../smsgw.example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := load(data, noEnv, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate measures Validate alone on the example config.
func BenchmarkValidate(b *testing.B) {
	cfg, err := Load("../smsgw.example.yaml", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := cfg.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
