package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSClientConfig(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   TLSFiles
		wantErr string
	}{
		{name: "defaults", files: TLSFiles{ServerName: "smsc.example"}},
		{name: "missing ca", files: TLSFiles{CAFile: filepath.Join(dir, "nope.pem")}, wantErr: "ca file"},
		{name: "ca without certificates", files: TLSFiles{CAFile: notPEM}, wantErr: "no certificates"},
		{name: "key without cert", files: TLSFiles{KeyFile: notPEM}, wantErr: "client cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := tt.files.ClientConfig()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.ServerName != tt.files.ServerName || tc.MinVersion == 0 {
				t.Fatalf("config %+v", tc)
			}
		})
	}
	if (TLSFiles{}).Set() || !(TLSFiles{ServerName: "x"}).Set() {
		t.Fatal("Set")
	}
}
