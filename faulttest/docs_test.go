package faulttest

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/smsgw/smsgw/config"
)

// The sample cluster files operators copy from docs/cluster/ must be valid:
// the instance config for smsgw, the node configs for nats-server.
func TestClusterDocsConfigs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nats-server")
	}
	cfg, err := config.Load(filepath.Join("..", "docs", "cluster", "smsgw-instance.yaml"), nil)
	if err != nil {
		t.Fatalf("smsgw-instance.yaml: %v", err)
	}
	if cfg.NATS.Replicas != 3 || cfg.NATS.URL == "" {
		t.Errorf("sample instance: replicas %d, url %q; want 3 and a cluster URL", cfg.NATS.Replicas, cfg.NATS.URL)
	}
	buildBinaries(t)
	for _, n := range []string{"nats-1.conf", "nats-2.conf", "nats-3.conf"} {
		out, err := exec.Command(bins.nats, "-t", "-c", filepath.Join("..", "docs", "cluster", n)).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", n, err, out)
		}
	}
}
