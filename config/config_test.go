package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// problemPaths returns the key paths of a *Problems error, failing the test
// for any other error.
func problemPaths(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T (%v), want *Problems", err, err)
	}
	paths := make([]string, len(*ps))
	for i, p := range *ps {
		paths[i] = p.Path
	}
	return paths
}

// validBase is a small valid config every bad-value case starts from.
const validBase = `
accounts:
  - id: acme
    api_keys: ["acme-key-1"]
    sender: ACME
    numbers: ["+447700900000"]
  - id: beta
    api_keys: ["beta-key-1"]
smscs:
  - name: carrier-a
    addr: 127.0.0.1:2775
    system_id: smsgw
    password: secret
  - name: carrier-b
    addr: smsc.example:2775
    system_id: smsgw
routes:
  - prefix: "+"
    smscs: [carrier-a, carrier-b]
webhooks:
  - account: acme
    url: https://client.example/hooks/sms
    events: ["message.*", "contact.*"]
    secret: whsec_c21zZ3ctZXhhbXBsZS1zZWNyZXQtY2hhbmdlLW1lISE=
`

func TestDefaults(t *testing.T) {
	for _, in := range []string{"", "   \n", "# only a comment\n", "{}"} {
		cfg, err := load([]byte(in), noEnv, nil)
		if err != nil {
			t.Fatalf("load(%q): %v", in, err)
		}
		if !reflect.DeepEqual(cfg, Default()) {
			t.Errorf("load(%q) = %+v, want Default()", in, cfg)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default() is invalid: %v", err)
	}
	d := Default()
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}
	if !slices.Equal(d.Bridge.RetrySchedule, want) {
		t.Errorf("retry schedule %v, want the contract's %v", d.Bridge.RetrySchedule, want)
	}
	if d.HTTP.Addr != "127.0.0.1:8080" || d.NATS.URL != "" || d.Messages.MaxParts != 10 || d.Inbound.ReplyWindow != 168*time.Hour || d.Bridge.Timeout != 15*time.Second || d.Simulator.Listen != "127.0.0.1:2775" {
		t.Errorf("contract defaults differ: %+v", d)
	}
	// Default returns fresh slices: changing one must not change the next.
	d.Inbound.StopKeywords[0] = "X"
	if Default().Inbound.StopKeywords[0] != "STOP" {
		t.Error("Default shares slices between calls")
	}
}

func TestLoadFileFillsElementDefaults(t *testing.T) {
	cfg, err := load([]byte(validBase), noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := SMSCDefaults()
	want.Name, want.Addr, want.SystemID, want.Password = "carrier-a", "127.0.0.1:2775", "smsgw", "secret"
	if !reflect.DeepEqual(cfg.SMSCs[0], want) {
		t.Errorf("smscs[0] = %+v\nwant %+v", cfg.SMSCs[0], want)
	}
	if cfg.HTTP != Default().HTTP {
		t.Errorf("http = %+v, want defaults", cfg.HTTP)
	}
	if got := cfg.Routes[0].SMSCs; !slices.Equal(got, []string{"carrier-a", "carrier-b"}) {
		t.Errorf("routes[0].smscs = %v", got)
	}

	cfg, err = load([]byte(validBase+"  - account: beta\n    url: https://b.example/h\n    secret: whsec_c21zZ3ctZXhhbXBsZS1zZWNyZXQtY2hhbmdlLW1lISE=\n"), noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Webhooks[1].Events; !slices.Equal(got, []string{"*"}) {
		t.Errorf("webhooks[1].events = %v, want [*] by default", got)
	}
	if got := cfg.Webhooks[0].Events; !slices.Equal(got, []string{"message.*", "contact.*"}) {
		t.Errorf("webhooks[0].events = %v", got)
	}
}

func TestLoadTypedValues(t *testing.T) {
	cfg, err := load([]byte(validBase+`
http: {max_body_bytes: 2048, read_timeout: 1500ms}
bridge: {retry_schedule: [1s, 1m], jitter: 0.5}
inbound: {stop_keywords: [STOP]}
`), noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.MaxBodyBytes != 2048 || cfg.HTTP.ReadTimeout != 1500*time.Millisecond {
		t.Errorf("http = %+v", cfg.HTTP)
	}
	if !slices.Equal(cfg.Bridge.RetrySchedule, []time.Duration{time.Second, time.Minute}) || cfg.Bridge.Jitter != 0.5 {
		t.Errorf("bridge = %+v", cfg.Bridge)
	}
	if !slices.Equal(cfg.Inbound.StopKeywords, []string{"STOP"}) {
		t.Errorf("a shorter list must replace the default, got %v", cfg.Inbound.StopKeywords)
	}
	// TON/NPI: nil means auto, a value (even 0) is kept.
	cfg, err = load([]byte(strings.Replace(validBase, "password: secret", "password: secret\n    source_ton: 0\n    dest_npi: 1", 1)), noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.SMSCs[0]
	if s.SourceTON == nil || *s.SourceTON != 0 || s.DestNPI == nil || *s.DestNPI != 1 || s.SourceNPI != nil || s.DestTON != nil {
		t.Errorf("ton/npi = %v %v %v %v", s.SourceTON, s.SourceNPI, s.DestTON, s.DestNPI)
	}
}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		check func(Config) bool
	}{
		{"key absent from file", "", map[string]string{"SMSGW_HTTP_ADDR": "0.0.0.0:9000"}, func(c Config) bool { return c.HTTP.Addr == "0.0.0.0:9000" }},
		{"env beats file", "http: {addr: 127.0.0.1:1}", map[string]string{"SMSGW_HTTP_ADDR": "127.0.0.1:2"}, func(c Config) bool { return c.HTTP.Addr == "127.0.0.1:2" }},
		{"file kept without env", "http: {addr: 127.0.0.1:1}", nil, func(c Config) bool { return c.HTTP.Addr == "127.0.0.1:1" }},
		{"nats url", "", map[string]string{"SMSGW_NATS_URL": "nats://a:4222,nats://b:4222"}, func(c Config) bool { return c.NATS.URL == "nats://a:4222,nats://b:4222" }},
		{"bool", "", map[string]string{"SMSGW_SIMULATOR_ENABLED": "true"}, func(c Config) bool { return c.Simulator.Enabled }},
		{"int", "", map[string]string{"SMSGW_MESSAGES_MAX_PARTS": "3"}, func(c Config) bool { return c.Messages.MaxParts == 3 }},
		{"int64", "", map[string]string{"SMSGW_HTTP_MAX_BODY_BYTES": "4096"}, func(c Config) bool { return c.HTTP.MaxBodyBytes == 4096 }},
		{"float", "", map[string]string{"SMSGW_BRIDGE_JITTER": "0.1"}, func(c Config) bool { return c.Bridge.Jitter == 0.1 }},
		{"duration", "", map[string]string{"SMSGW_INBOUND_REPLY_WINDOW": "24h"}, func(c Config) bool { return c.Inbound.ReplyWindow == 24*time.Hour }},
		{"nested tls", "", map[string]string{"SMSGW_NATS_TLS_SERVER_NAME": "n.example"}, func(c Config) bool { return c.NATS.TLS.ServerName == "n.example" }},
		{"data dir", "", map[string]string{"SMSGW_DATA_DIR": "/var/lib/smsgw"}, func(c Config) bool { return c.DataDir == "/var/lib/smsgw" }},
		{"string list", "", map[string]string{"SMSGW_INBOUND_STOP_KEYWORDS": "STOP, END"}, func(c Config) bool { return slices.Equal(c.Inbound.StopKeywords, []string{"STOP", "END"}) }},
		{"empty string list", "", map[string]string{"SMSGW_INBOUND_START_KEYWORDS": ""}, func(c Config) bool { return len(c.Inbound.StartKeywords) == 0 }},
		{"duration list", "", map[string]string{"SMSGW_BRIDGE_RETRY_SCHEDULE": "1s,2m"}, func(c Config) bool {
			return slices.Equal(c.Bridge.RetrySchedule, []time.Duration{time.Second, 2 * time.Minute})
		}},
		{"accounts as JSON", "", map[string]string{"SMSGW_ACCOUNTS": `[{"id":"acme","api_keys":["k-123456789"],"sender":"ACME"}]`}, func(c Config) bool {
			return len(c.Accounts) == 1 && c.Accounts[0].ID == "acme" && c.Accounts[0].APIKeys[0] == "k-123456789"
		}},
		{"smscs as JSON get defaults", "", map[string]string{
			"SMSGW_SMSCS":  `[{"name":"c","addr":"127.0.0.1:2775","system_id":"s"}]`,
			"SMSGW_ROUTES": `[{"prefix":"+44","smscs":["c"]}]`,
		}, func(c Config) bool {
			return len(c.SMSCs) == 1 && c.SMSCs[0].Window == 64 && c.Routes[0].Prefix == "+44"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load([]byte(tt.file), envOf(tt.env), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("env %v not applied: %+v", tt.env, cfg)
			}
		})
	}
}

// TestLoadUsesProcessEnv checks Load itself reads the real environment and
// a file from disk.
func TestLoadUsesProcessEnv(t *testing.T) {
	t.Setenv("SMSGW_LOG_LEVEL", "debug")
	path := filepath.Join(t.TempDir(), "smsgw.yaml")
	if err := os.WriteFile(path, []byte("log: {format: json}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != "debug" || cfg.Log.Format != "json" {
		t.Errorf("log = %+v", cfg.Log)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"SMSGW_ACCOUNTS": "not json"}, []string{"accounts"}},
		{map[string]string{"SMSGW_HTTP_MAX_BODY_BYTES": "lots"}, []string{"http.max_body_bytes"}},
		{map[string]string{"SMSGW_SIMULATOR_ENABLED": "maybe"}, []string{"simulator.enabled"}},
		{map[string]string{"SMSGW_BRIDGE_TIMEOUT": "15"}, []string{"bridge.timeout"}},
		{map[string]string{"SMSGW_SMSCS": `[{"name":"c","addr":"h:1","system_id":"s","tsp":3}]`}, []string{"smscs[0].tsp"}},
	}
	for _, tt := range tests {
		_, err := load(nil, envOf(tt.env), nil)
		if got := problemPaths(t, err); !slices.Equal(got, tt.want) {
			t.Errorf("env %v: problems at %v, want %v (%v)", tt.env, got, tt.want, err)
		}
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		yaml string
		want []string
	}{
		{"foo: 1", []string{"foo"}},
		{"http: {adr: x}", []string{"http.adr"}},
		{"smscs: [{name: a, addr: 'h:1', system_id: s, tsp: 3}]", []string{"smscs[0].tsp"}},
		{"smscs: [{name: a, addr: 'h:1', system_id: s, tls: {enabled: true, ca: x}}]", []string{"smscs[0].tls.ca"}},
		{"nats: {tls: {cafile: x}}", []string{"nats.tls.cafile"}},
		{"accounts: [{id: a, api_keys: [abcdefgh], apikey: x}]", []string{"accounts[0].apikey"}},
		{"smscs: [{name: a, addr: 'h:1', system_id: s, error_map: [{stat: UNDELIV, category: unknown, code: 1}]}]", []string{"smscs[0].error_map[0].code"}},
		{"bogus: 1\nhttp: {nope: 2}", []string{"bogus", "http.nope"}},
	}
	for _, tt := range tests {
		_, err := load([]byte(tt.yaml), noEnv, nil)
		if got := problemPaths(t, err); !slices.Equal(got, tt.want) {
			t.Errorf("%q: problems at %v, want %v (%v)", tt.yaml, got, tt.want, err)
			continue
		}
		var ps *Problems
		errors.As(err, &ps)
		for _, p := range *ps {
			if p.Message != "unknown key" {
				t.Errorf("%q: %s: message %q", tt.yaml, p.Path, p.Message)
			}
		}
	}
}

func TestSyntaxAndTypeErrors(t *testing.T) {
	for _, in := range []string{"a: [", "- a\n- b\n", "http: {addr: x\n", "a: 1\na: 2\n", "\t- x"} {
		_, err := load([]byte(in), noEnv, nil)
		if err == nil {
			t.Errorf("%q: no error", in)
			continue
		}
		var ps *Problems
		if !errors.Is(err, ErrSyntax) && !errors.As(err, &ps) {
			t.Errorf("%q: err %v is neither ErrSyntax nor *Problems", in, err)
		}
	}
	tests := []struct {
		yaml string
		want []string
	}{
		{"http: {max_body_bytes: big}", []string{"http.max_body_bytes"}},
		{"http: 5", []string{"http"}},
		{"smscs: 5", []string{"smscs[0]"}},
		{"smscs: [{name: a, addr: 'h:1', system_id: s, window: wide}]", []string{"smscs[0].window"}},
		{"bridge: {timeout: soon}", []string{"bridge.timeout"}},
		{"bridge: {retry_schedule: [1s, never]}", []string{"bridge.retry_schedule[1]"}},
		{"simulator: {enabled: perhaps}", []string{"simulator.enabled"}},
		// Type errors and validation problems come out together.
		{"http: {max_body_bytes: big}\nmessages: {max_parts: 0}", []string{"http.max_body_bytes", "messages.max_parts"}},
	}
	for _, tt := range tests {
		_, err := load([]byte(tt.yaml), noEnv, nil)
		if got := problemPaths(t, err); !slices.Equal(got, tt.want) {
			t.Errorf("%q: problems at %v, want %v (%v)", tt.yaml, got, tt.want, err)
		}
	}
}

// TestValidateBadValues changes one key of a valid config at a time and
// expects exactly one problem, at exactly that path.
func TestValidateBadValues(t *testing.T) {
	ptr := func(i int) *int { return &i }
	tests := []struct {
		path string
		mod  func(*Config)
	}{
		{"data_dir", func(c *Config) { c.DataDir = " " }},
		{"log.level", func(c *Config) { c.Log.Level = "verbose" }},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }},
		{"http.addr", func(c *Config) { c.HTTP.Addr = "8080" }},
		{"http.addr", func(c *Config) { c.HTTP.Addr = "127.0.0.1:99999" }},
		{"http.addr", func(c *Config) { c.HTTP.Addr = "" }},
		{"http.max_body_bytes", func(c *Config) { c.HTTP.MaxBodyBytes = 0 }},
		{"http.read_timeout", func(c *Config) { c.HTTP.ReadTimeout = 0 }},
		{"http.write_timeout", func(c *Config) { c.HTTP.WriteTimeout = -time.Second }},
		{"http.idle_timeout", func(c *Config) { c.HTTP.IdleTimeout = 0 }},
		{"nats.listen", func(c *Config) { c.NATS.Listen = "nope" }},
		{"nats.replicas", func(c *Config) { c.NATS.Replicas = 3 }},
		{"nats.replicas", func(c *Config) { c.NATS.URL = "nats://a:4222"; c.NATS.Replicas = 7 }},
		{"nats.url", func(c *Config) { c.NATS.URL = "http://a:4222" }},
		{"nats.url", func(c *Config) { c.NATS.URL = "nats://a:4222, nats://" }},
		{"nats.nkey_file", func(c *Config) { c.NATS.CredsFile, c.NATS.NKeyFile = "a", "b" }},
		{"nats.token", func(c *Config) { c.NATS.Token, c.NATS.User = "t", "u" }},
		{"nats.user", func(c *Config) { c.NATS.Password = "p" }},
		{"nats.tls.cert_file", func(c *Config) { c.NATS.TLS.CertFile = "c.pem" }},
		{"accounts[1].id", func(c *Config) { c.Accounts[1].ID = "Beta" }},
		{"accounts[1].id", func(c *Config) { c.Accounts[1].ID = "a.b" }},
		{"accounts[1].id", func(c *Config) { c.Accounts[1].ID = "" }},
		{"accounts[1].id", func(c *Config) { c.Accounts[1].ID = "acme" }},
		{"accounts[1].api_keys", func(c *Config) { c.Accounts[1].APIKeys = nil }},
		{"accounts[1].api_keys[0]", func(c *Config) { c.Accounts[1].APIKeys = []string{"acme-key-1"} }},
		{"accounts[1].api_keys[0]", func(c *Config) { c.Accounts[1].APIKeys = []string{"short"} }},
		{"accounts[1].api_keys[0]", func(c *Config) { c.Accounts[1].APIKeys = []string{"has space in it"} }},
		{"accounts[0].sender", func(c *Config) { c.Accounts[0].Sender = "TWELVECHARSX" }},
		{"accounts[0].sender", func(c *Config) { c.Accounts[0].Sender = "AC-ME" }},
		{"accounts[0].sender", func(c *Config) { c.Accounts[0].Sender = "+0123" }},
		{"accounts[0].numbers[0]", func(c *Config) { c.Accounts[0].Numbers = []string{"07700900000x"} }},
		{"accounts[1].numbers[0]", func(c *Config) { c.Accounts[1].Numbers = []string{"+447700900000"} }},
		{"smscs[1].name", func(c *Config) { c.SMSCs[1].Name = "carrier-a"; c.Routes[0].SMSCs = []string{"carrier-a"} }},
		{"smscs[1].name", func(c *Config) { c.SMSCs[1].Name = "Carrier B"; c.Routes[0].SMSCs = []string{"carrier-a"} }},
		{"smscs[0].addr", func(c *Config) { c.SMSCs[0].Addr = "" }},
		{"smscs[0].system_id", func(c *Config) { c.SMSCs[0].SystemID = "" }},
		{"smscs[0].system_id", func(c *Config) { c.SMSCs[0].SystemID = "sixteen-chars-xx" }},
		{"smscs[0].password", func(c *Config) { c.SMSCs[0].Password = "ninechars" }},
		{"smscs[0].system_type", func(c *Config) { c.SMSCs[0].SystemType = "thirteenchars" }},
		{"smscs[0].bind", func(c *Config) { c.SMSCs[0].Bind = "transmitter" }},
		{"smscs[0].binds", func(c *Config) { c.SMSCs[0].Binds = 0 }},
		{"smscs[1].tps", func(c *Config) { c.SMSCs[1].TPS = -1 }},
		{"smscs[0].window", func(c *Config) { c.SMSCs[0].Window = 2000 }},
		{"smscs[0].enquire_link", func(c *Config) { c.SMSCs[0].EnquireLink = 0 }},
		{"smscs[0].response_timeout", func(c *Config) { c.SMSCs[0].ResponseTimeout = time.Hour }},
		{"smscs[0].reconnect_min", func(c *Config) { c.SMSCs[0].ReconnectMin = 0 }},
		{"smscs[0].reconnect_max", func(c *Config) { c.SMSCs[0].ReconnectMax = time.Millisecond }},
		{"smscs[0].tls.cert_file", func(c *Config) { c.SMSCs[0].TLS.KeyFile = "k.pem" }},
		{"smscs[0].source_ton", func(c *Config) { c.SMSCs[0].SourceTON = ptr(7) }},
		{"smscs[0].source_npi", func(c *Config) { c.SMSCs[0].SourceNPI = ptr(-1) }},
		{"smscs[0].dest_ton", func(c *Config) { c.SMSCs[0].DestTON = ptr(9) }},
		{"smscs[0].dest_npi", func(c *Config) { c.SMSCs[0].DestNPI = ptr(19) }},
		{"smscs[0].encoding", func(c *Config) { c.SMSCs[0].Encoding = "latin1" }},
		{"smscs[0].concat", func(c *Config) { c.SMSCs[0].Concat = "tlv" }},
		{"smscs[0].receipt_id_format", func(c *Config) { c.SMSCs[0].ReceiptIDFormat = "b64" }},
		{"smscs[0].error_map[0].stat", func(c *Config) {
			c.SMSCs[0].ErrorMap = []ErrorRule{{Stat: "FAILED", Category: "hard_bounce"}}
		}},
		{"smscs[0].error_map[0].err", func(c *Config) {
			c.SMSCs[0].ErrorMap = []ErrorRule{{Stat: "UNDELIV", Err: "x1", Category: "hard_bounce"}}
		}},
		{"smscs[0].error_map[1].category", func(c *Config) {
			c.SMSCs[0].ErrorMap = []ErrorRule{{Stat: "undeliv", Category: "soft_bounce"}, {Stat: "REJECTD", Category: "spam"}}
		}},
		{"routes[0].prefix", func(c *Config) { c.Routes[0].Prefix = "44" }},
		{"routes[1].prefix", func(c *Config) { c.Routes = append(c.Routes, Route{Prefix: "+", SMSCs: []string{"carrier-a"}}) }},
		{"routes[0].smscs", func(c *Config) { c.Routes[0].SMSCs = nil }},
		{"routes[0].smscs[1]", func(c *Config) { c.Routes[0].SMSCs[1] = "carrier-z" }},
		{"routes[0].smscs[1]", func(c *Config) { c.Routes[0].SMSCs[1] = "carrier-a" }},
		{"messages.max_parts", func(c *Config) { c.Messages.MaxParts = 0 }},
		{"messages.max_parts", func(c *Config) { c.Messages.MaxParts = 256 }},
		{"messages.submit_attempts", func(c *Config) { c.Messages.SubmitAttempts = 0 }},
		{"messages.submit_workers", func(c *Config) { c.Messages.SubmitWorkers = 0 }},
		{"messages.id_ttl", func(c *Config) { c.Messages.IDTTL = time.Second }},
		{"messages.final_record_ttl", func(c *Config) { c.Messages.FinalRecordTTL = 0 }},
		{"messages.final_record_ttl", func(c *Config) { c.Messages.FinalRecordTTL = 721 * time.Hour }},
		{"inbound.default_account", func(c *Config) { c.Inbound.DefaultAccount = "nobody" }},
		{"inbound.reply_window", func(c *Config) { c.Inbound.ReplyWindow = 0 }},
		{"inbound.reassembly_timeout", func(c *Config) { c.Inbound.ReassemblyTimeout = 0 }},
		{"inbound.stop_keywords[1]", func(c *Config) { c.Inbound.StopKeywords = []string{"STOP", "stop"} }},
		{"inbound.stop_keywords[0]", func(c *Config) { c.Inbound.StopKeywords = []string{" "} }},
		{"inbound.start_keywords[0]", func(c *Config) { c.Inbound.StartKeywords = []string{"Stop"} }},
		{"webhooks[0].account", func(c *Config) { c.Webhooks[0].Account = "nobody" }},
		{"webhooks[0].account", func(c *Config) { c.Webhooks[0].Account = "" }},
		{"webhooks[0].url", func(c *Config) { c.Webhooks[0].URL = "client.example/hooks" }},
		{"webhooks[0].url", func(c *Config) { c.Webhooks[0].URL = "ftp://client.example/hooks" }},
		{"webhooks[0].url", func(c *Config) { c.Webhooks[0].URL = "https://u:p@client.example/hooks" }},
		{"webhooks[0].url", func(c *Config) { c.Webhooks[0].URL = "http://127.0.0.1:9000/hooks" }},
		{"webhooks[0].url", func(c *Config) { c.Webhooks[0].URL = "http://[::1]/hooks" }},
		{"webhooks[0].url", func(c *Config) { c.Webhooks[0].URL = "http://10.1.2.3/hooks" }},
		{"webhooks[0].url", func(c *Config) { c.Webhooks[0].URL = "http://localhost:8000/hooks" }},
		{"webhooks[0].events", func(c *Config) { c.Webhooks[0].Events = nil }},
		{"webhooks[0].events[1]", func(c *Config) { c.Webhooks[0].Events = []string{"message.sent", "message.bounced"} }},
		{"webhooks[0].events[0]", func(c *Config) { c.Webhooks[0].Events = []string{"sms.*"} }},
		{"webhooks[0].secret", func(c *Config) { c.Webhooks[0].Secret = "" }},
		{"webhooks[0].secret", func(c *Config) { c.Webhooks[0].Secret = "c21zZ3ctZXhhbXBsZS1zZWNyZXQtY2hhbmdlLW1lISE=" }},
		{"webhooks[0].secret", func(c *Config) { c.Webhooks[0].Secret = "whsec_not base64!" }},
		{"webhooks[0].secret", func(c *Config) { c.Webhooks[0].Secret = "whsec_c2hvcnQ=" }},
		{"webhooks[0].rate_limit", func(c *Config) { c.Webhooks[0].RateLimit = -1 }},
		{"webhooks[0].timeout", func(c *Config) { c.Webhooks[0].Timeout = time.Hour }},
		{"bridge.timeout", func(c *Config) { c.Bridge.Timeout = 0 }},
		{"bridge.retry_schedule", func(c *Config) { c.Bridge.RetrySchedule = nil }},
		{"bridge.retry_schedule[1]", func(c *Config) { c.Bridge.RetrySchedule = []time.Duration{time.Second, 0} }},
		{"bridge.jitter", func(c *Config) { c.Bridge.Jitter = 1.5 }},
		{"bridge.max_in_flight_per_endpoint", func(c *Config) { c.Bridge.MaxInFlightPerEndpoint = 0 }},
		{"bridge.disable_after", func(c *Config) { c.Bridge.DisableAfter = -time.Hour }},
		{"bridge.stall_timeout", func(c *Config) { c.Bridge.StallTimeout = 0 }},
		{"simulator.listen", func(c *Config) { c.Simulator.Listen = "" }},
		{"simulator.http", func(c *Config) { c.Simulator.HTTP = "2776" }},
		{"simulator.system_id", func(c *Config) { c.Simulator.SystemID = "" }},
		{"simulator.password", func(c *Config) { c.Simulator.Password = "toolongpw" }},
		{"simulator.id_format", func(c *Config) { c.Simulator.IDFormat = "uuid" }},
		{"simulator.receipt_delay", func(c *Config) { c.Simulator.ReceiptDelay = -time.Second }},
		{"simulator.tps", func(c *Config) { c.Simulator.TPS = -1 }},
	}
	base, err := load([]byte(validBase), noEnv, nil)
	if err != nil {
		t.Fatalf("base config invalid: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			c := clone(t, base)
			tt.mod(&c)
			got := problemPaths(t, c.Validate())
			if !slices.Equal(got, []string{tt.path}) {
				t.Errorf("problems at %v, want exactly [%s]: %v", got, tt.path, c.Validate())
			}
		})
	}
}

// clone deep-copies a config through a fresh load so mods cannot touch the
// base's slices.
func clone(t *testing.T, c Config) Config {
	t.Helper()
	out := c
	out.Accounts = nil
	for _, a := range c.Accounts {
		a.APIKeys = slices.Clone(a.APIKeys)
		a.Numbers = slices.Clone(a.Numbers)
		out.Accounts = append(out.Accounts, a)
	}
	out.SMSCs = nil
	for _, s := range c.SMSCs {
		s.ErrorMap = slices.Clone(s.ErrorMap)
		out.SMSCs = append(out.SMSCs, s)
	}
	out.Routes = nil
	for _, r := range c.Routes {
		r.SMSCs = slices.Clone(r.SMSCs)
		out.Routes = append(out.Routes, r)
	}
	out.Webhooks = nil
	for _, w := range c.Webhooks {
		w.Events = slices.Clone(w.Events)
		out.Webhooks = append(out.Webhooks, w)
	}
	out.Inbound.StopKeywords = slices.Clone(c.Inbound.StopKeywords)
	out.Inbound.StartKeywords = slices.Clone(c.Inbound.StartKeywords)
	out.Bridge.RetrySchedule = slices.Clone(c.Bridge.RetrySchedule)
	return out
}

func TestValidateAcceptsVariants(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"short code sender", func(c *Config) { c.Accounts[0].Sender = "60123" }},
		{"e164 sender", func(c *Config) { c.Accounts[0].Sender = "+447700900001" }},
		{"sender with space", func(c *Config) { c.Accounts[0].Sender = "Acme Ltd" }},
		{"short code number", func(c *Config) { c.Accounts[0].Numbers = append(c.Accounts[0].Numbers, "60123") }},
		{"port 0", func(c *Config) { c.HTTP.Addr = "127.0.0.1:0"; c.Simulator.Listen = ":0" }},
		{"no embedded listener", func(c *Config) { c.NATS.Listen = "" }},
		{"simulator http off", func(c *Config) { c.Simulator.HTTP = "" }},
		{"nats cluster", func(c *Config) { c.NATS.URL = "nats://a:4222, tls://b:4222"; c.NATS.Replicas = 3 }},
		{"private target allowed", func(c *Config) {
			c.Bridge.AllowPrivateTargets = true
			c.Webhooks[0].URL = "http://127.0.0.1:9000/hooks"
		}},
		{"every filter", func(c *Config) {
			c.Webhooks[0].Events = []string{"*", "message.sent", "contact.opted_in", "webhook.test"}
		}},
		{"bind tx/rx", func(c *Config) { c.SMSCs[0].Bind = BindTransmitterReceiver }},
		{"ton npi zero", func(c *Config) { z := 0; c.SMSCs[0].SourceTON, c.SMSCs[0].SourceNPI = &z, &z }},
		{"route prefix", func(c *Config) { c.Routes = append(c.Routes, Route{Prefix: "+44", SMSCs: []string{"carrier-b"}}) }},
		{"default account", func(c *Config) { c.Inbound.DefaultAccount = "beta" }},
		{"no keywords", func(c *Config) { c.Inbound.StopKeywords, c.Inbound.StartKeywords = nil, nil }},
		{"never disable", func(c *Config) { c.Bridge.DisableAfter = 0 }},
		{"64-byte secret", func(c *Config) {
			c.Webhooks[0].Secret = "whsec_" + strings.Repeat("QUFB", 21) + "QQ=="
		}},
	}
	base, err := load([]byte(validBase), noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clone(t, base)
			tt.mod(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("unexpected problems: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Log.Level = "loud"
	c.Messages.MaxParts = 0
	c.SMSCs = []SMSC{SMSCDefaults(), SMSCDefaults()}
	c.SMSCs[1].TPS = -5
	err := c.Validate()
	got := problemPaths(t, err)
	want := []string{"log.level", "smscs[0].name", "smscs[0].addr", "smscs[0].system_id", "smscs[1].name", "smscs[1].addr", "smscs[1].system_id", "smscs[1].tps", "messages.max_parts"}
	if !slices.Equal(got, want) {
		t.Errorf("problems at\n%v\nwant\n%v", got, want)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) || lines[7] != "smscs[1].tps: must be 0 to 100000, is -5" {
		t.Errorf("Error() lines = %q", lines)
	}
}

func TestExampleConfigValidates(t *testing.T) {
	cfg, err := Load("../smsgw.example.yaml", nil)
	if err != nil {
		t.Fatalf("smsgw.example.yaml: %v", err)
	}
	// The example must show every key: compare its keys with Keys().
	raw, err := os.ReadFile("../smsgw.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		leaf := k.Path[strings.LastIndex(k.Path, ".")+1:]
		leaf = strings.TrimSuffix(leaf, "[]")
		if !bytes.Contains(raw, []byte(leaf+":")) {
			t.Errorf("smsgw.example.yaml does not show key %s", k.Path)
		}
	}
	if len(cfg.Accounts) == 0 || len(cfg.SMSCs) == 0 || len(cfg.Webhooks) == 0 || len(cfg.SMSCs[0].ErrorMap) == 0 {
		t.Errorf("example lacks lists: %+v", cfg)
	}
}

func TestApplyDemo(t *testing.T) {
	c := Default()
	if !c.ApplyDemo() {
		t.Fatal("ApplyDemo on an empty config did nothing")
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("demo config invalid: %v", err)
	}
	if !c.Simulator.Enabled || !c.Bridge.AllowPrivateTargets {
		t.Errorf("simulator %v, private targets %v", c.Simulator.Enabled, c.Bridge.AllowPrivateTargets)
	}
	if len(c.SMSCs) != 1 || c.SMSCs[0].Name != DemoSMSCName || c.SMSCs[0].Addr != c.Simulator.Listen ||
		c.SMSCs[0].SystemID != c.Simulator.SystemID || c.SMSCs[0].Password != c.Simulator.Password {
		t.Errorf("smscs = %+v", c.SMSCs)
	}
	if len(c.Routes) != 1 || c.Routes[0].Prefix != "+" || !slices.Equal(c.Routes[0].SMSCs, []string{DemoSMSCName}) {
		t.Errorf("routes = %+v", c.Routes)
	}
	if len(c.Accounts) != 1 || c.Accounts[0].ID != "demo" || !slices.Equal(c.Accounts[0].APIKeys, []string{"demo-key"}) || c.Accounts[0].Sender != "SMSGW" {
		t.Errorf("accounts = %+v", c.Accounts)
	}
	if c.ApplyDemo() {
		t.Error("ApplyDemo applied twice")
	}

	// A config with an account or an SMSC is never changed.
	for _, in := range []string{validBase, "accounts: [{id: a, api_keys: [abcdefgh]}]"} {
		c, err := load([]byte(in), noEnv, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := clone(t, c)
		if c.ApplyDemo() || !reflect.DeepEqual(c, before) {
			t.Errorf("ApplyDemo changed a configured config (%q)", in)
		}
	}
	// The simulator's listen address and credentials carry over.
	c, err := load([]byte("simulator: {listen: '127.0.0.1:0', system_id: test, password: pw}"), noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDemo()
	if s := c.SMSCs[0]; s.Addr != "127.0.0.1:0" || s.SystemID != "test" || s.Password != "pw" {
		t.Errorf("demo smsc = %+v", s)
	}
}

func TestFlags(t *testing.T) {
	newFlags := func() *pflag.FlagSet {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		fs.String("config", "", "")
		fs.String("listen", "127.0.0.1:2775", "")
		fs.String("data-dir", "", "")
		fs.Int("tps", 0, "")
		fs.StringSlice("stop", nil, "")
		fs.Duration("receipt-delay", 0, "")
		for flag, key := range map[string]string{"listen": "simulator.listen", "tps": "simulator.tps", "stop": "inbound.stop_keywords", "receipt-delay": "simulator.receipt_delay"} {
			if err := BindFlag(fs, flag, key); err != nil {
				t.Fatal(err)
			}
		}
		return fs
	}

	fs := newFlags()
	if err := fs.Parse([]string{"--listen=127.0.0.1:0", "--data-dir=/tmp/x", "--tps=5", "--stop=HALT,END", "--receipt-delay=2s"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := load([]byte("simulator: {listen: '127.0.0.1:1', tps: 1}"), envOf(map[string]string{"SMSGW_SIMULATOR_TPS": "2"}), fs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Simulator.Listen != "127.0.0.1:0" || cfg.DataDir != "/tmp/x" || cfg.Simulator.TPS != 5 ||
		!slices.Equal(cfg.Inbound.StopKeywords, []string{"HALT", "END"}) || cfg.Simulator.ReceiptDelay != 2*time.Second {
		t.Errorf("flags not applied: %+v", cfg)
	}

	// A flag not given leaves file and env alone, even with a default.
	fs = newFlags()
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg, err = load([]byte("simulator: {listen: '127.0.0.1:1'}"), envOf(map[string]string{"SMSGW_SIMULATOR_TPS": "2"}), fs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Simulator.Listen != "127.0.0.1:1" || cfg.Simulator.TPS != 2 || cfg.DataDir != "./data" {
		t.Errorf("unset flags overrode: %+v", cfg.Simulator)
	}

	// A bad flag value is a problem at its key.
	fs = pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String("max-parts", "", "")
	if err := BindFlag(fs, "max-parts", "messages.max_parts"); err != nil {
		t.Fatal(err)
	}
	_ = fs.Parse([]string{"--max-parts=many"})
	_, err = load(nil, noEnv, fs)
	if got := problemPaths(t, err); !slices.Equal(got, []string{"messages.max_parts"}) {
		t.Errorf("problems at %v: %v", got, err)
	}

	if err := BindFlag(pflag.NewFlagSet("x", pflag.ContinueOnError), "x", "simulator.lisen"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("BindFlag with a misspelt key: %v", err)
	}
}

func TestRedacted(t *testing.T) {
	c, err := load([]byte(validBase+`
nats: {url: "nats://user:hunter2@n1:4222,nats://n2:4222", password: natspw, token: ""}
simulator: {password: simpw}
`), noEnv, nil)
	if err == nil {
		// nats.password without nats.user is a problem; set the user.
		t.Fatal("expected nats.user problem")
	}
	c.NATS.User = "u"
	secrets := []string{"acme-key-1", "beta-key-1", "secret", "natspw", "hunter2", "simpw", "whsec_c21zZ3ctZXhhbXBsZS1zZWNyZXQtY2hhbmdlLW1lISE="}

	r := c.Redacted()
	dump := fmt.Sprintf("%+v", r)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", c)
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("Redacted() shows %q", s)
		}
		if strings.Contains(logged.String(), s) {
			t.Errorf("slog shows %q", s)
		}
	}
	if !strings.Contains(logged.String(), "carrier-a") || !strings.Contains(dump, RedactedValue) {
		t.Errorf("redacted output lost non-secrets or marks:\n%s", logged.String())
	}
	if r.NATS.Token != "" {
		t.Errorf("unset token shown as %q", r.NATS.Token)
	}
	if !strings.Contains(r.NATS.URL, "nats://n2:4222") || !strings.Contains(r.NATS.URL, "user:xxxxx@n1") {
		t.Errorf("nats url redacted to %q", r.NATS.URL)
	}
	// The original is untouched.
	if c.Accounts[0].APIKeys[0] != "acme-key-1" || c.SMSCs[0].Password != "secret" {
		t.Error("Redacted changed the original")
	}
}
