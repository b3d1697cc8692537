package config

import "time"

// Config is smsgw's whole configuration. The mapstructure tags are the YAML
// keys; nested keys join with "." (e.g. "http.addr") and map to the env
// variable SMSGW_ plus the upper-cased path with "." and "-" turned to "_"
// (SMSGW_HTTP_ADDR). Every key has a default (see Default), so an empty
// file is a valid config.
type Config struct {
	// DataDir is the directory for the embedded NATS server's JetStream
	// file store and other local state. Default "./data". Must not be empty.
	DataDir string `mapstructure:"data_dir"`
	// Log configures the process logger.
	Log Log `mapstructure:"log"`
	// HTTP configures the gateway's HTTP API server.
	HTTP HTTP `mapstructure:"http"`
	// NATS configures the connection to NATS JetStream (or the embedded
	// server).
	NATS NATS `mapstructure:"nats"`
	// Accounts are the API clients. Each has its own API keys, messages,
	// webhook endpoints and opt-out list. List; file only (or JSON in env).
	Accounts []Account `mapstructure:"accounts"`
	// SMSCs are the carrier SMSCs to bind to. Names must be unique.
	SMSCs []SMSC `mapstructure:"smscs"`
	// Routes map a destination prefix to an ordered list of SMSC names;
	// the longest matching prefix wins, the list is the failover order.
	Routes []Route `mapstructure:"routes"`
	// Messages configures outbound message handling.
	Messages Messages `mapstructure:"messages"`
	// Inbound configures mobile-originated message handling.
	Inbound Inbound `mapstructure:"inbound"`
	// Webhooks are static webhook endpoints, besides those made through
	// the API.
	Webhooks []Webhook `mapstructure:"webhooks"`
	// Bridge configures webhook delivery.
	Bridge Bridge `mapstructure:"bridge"`
	// Simulator configures the bundled SMSC simulator.
	Simulator Simulator `mapstructure:"simulator"`
}

// Log configures logging.
type Log struct {
	// Level is the minimum level logged: debug, info, warn or error.
	// Default info.
	Level string `mapstructure:"level"`
	// Format is the log line format: text (logfmt-like) or json.
	// Default text.
	Format string `mapstructure:"format"`
}

// HTTP configures the gateway's HTTP server.
type HTTP struct {
	// Addr is the host:port the API listens on. Default "127.0.0.1:8080";
	// port 0 picks a free port.
	Addr string `mapstructure:"addr"`
	// MaxBodyBytes caps a request body, in bytes; larger bodies are
	// answered 413. Default 1048576 (1 MiB); 1 to 1 GiB.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// ReadTimeout is the longest time to read a whole request, headers and
	// body. Default 30s; must be > 0.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout is the longest time to write a response. Default 60s
	// (a webhook test waits for the endpoint); must be > 0.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// IdleTimeout is how long a keep-alive connection waits for its next
	// request. Default 120s; must be > 0.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
}

// NATS configures the NATS JetStream connection.
type NATS struct {
	// URL is the NATS server URL (nats://host:port, tls://…), or a
	// comma-separated list for a cluster. Empty (default): an embedded
	// server with JetStream is started in-process, storing under DataDir.
	URL string `mapstructure:"url"`
	// Listen is the embedded server's client listen address (host:port).
	// Default "127.0.0.1:4222"; empty: no TCP listener (in-process
	// connections only). Ignored when URL is set.
	Listen string `mapstructure:"listen"`
	// Replicas is the replica count of the streams and KV buckets smsgw
	// creates. Default 1; 1 to 5. Must be 1 with the embedded server.
	Replicas int `mapstructure:"replicas"`
	// CredsFile is a NATS user credentials file (JWT + NKey seed).
	// Optional.
	CredsFile string `mapstructure:"creds_file"`
	// NKeyFile is an NKey seed file for NKey authentication. Optional.
	NKeyFile string `mapstructure:"nkey_file"`
	// User is the user name for user/password authentication. Optional.
	User string `mapstructure:"user"`
	// Password goes with User. Secret: never logged. Optional.
	Password string `mapstructure:"password"`
	// Token is an authentication token. Secret: never logged. Optional.
	Token string `mapstructure:"token"`
	// TLS configures TLS to the NATS servers. Optional.
	TLS TLSFiles `mapstructure:"tls"`
}

// TLSFiles names PEM files for a TLS client.
type TLSFiles struct {
	// CAFile is a PEM bundle of CAs to trust instead of the system pool.
	// Optional.
	CAFile string `mapstructure:"ca_file"`
	// CertFile is the client certificate (PEM) for mutual TLS. Optional;
	// requires KeyFile.
	CertFile string `mapstructure:"cert_file"`
	// KeyFile is the client certificate's private key (PEM). Optional;
	// requires CertFile.
	KeyFile string `mapstructure:"key_file"`
	// InsecureSkipVerify disables server certificate verification. For
	// tests only. Default false.
	InsecureSkipVerify bool `mapstructure:"insecure_skip_verify"`
	// ServerName overrides the name checked in the server certificate.
	// Optional.
	ServerName string `mapstructure:"server_name"`
}

// Account is an API client.
type Account struct {
	// ID names the account in NATS subjects (sms.events.<id>.…): it must
	// match ^[a-z0-9][a-z0-9_-]{0,62}$ and be unique. Required.
	ID string `mapstructure:"id"`
	// APIKeys are the bearer tokens of this account; each must be unique
	// across all accounts, 8 to 256 printable ASCII characters without
	// spaces. Secret: never logged.
	APIKeys []string `mapstructure:"api_keys"`
	// Sender is the default `from`: alphanumeric of at most 11 characters,
	// a short code (3 to 8 digits) or an E.164 number. Optional.
	Sender string `mapstructure:"sender"`
	// Numbers are this account's inbound numbers and short codes (E.164
	// or 3 to 8 digits); an inbound message to one of them (or to Sender)
	// belongs to this account. Each number may belong to one account only.
	Numbers []string `mapstructure:"numbers"`
}

// SMSC is one carrier SMSC.
type SMSC struct {
	// Name identifies the SMSC in routes, events and metrics; unique,
	// same charset as account ids. Required.
	Name string `mapstructure:"name"`
	// Addr is the SMSC's host:port. Required.
	Addr string `mapstructure:"addr"`
	// SystemID is the bind's system_id; at most 15 characters. Required.
	SystemID string `mapstructure:"system_id"`
	// Password is the bind's password; at most 8 characters (SMPP 3.4).
	// Secret: never logged.
	Password string `mapstructure:"password"`
	// SystemType is the bind's system_type; at most 12 characters.
	// Optional.
	SystemType string `mapstructure:"system_type"`
	// Bind is the bind mode: transceiver (default) or transmitter_receiver
	// (a transmitter bind plus a receiver bind).
	Bind string `mapstructure:"bind"`
	// Binds is the number of binds (of the chosen mode) kept open.
	// Default 1; 1 to 64.
	Binds int `mapstructure:"binds"`
	// TPS caps submit_sm per second across this SMSC's binds. 0 (default)
	// is unlimited; 0 to 100000.
	TPS int `mapstructure:"tps"`
	// Window is the number of outstanding requests per bind. Default 64;
	// 1 to 1024.
	Window int `mapstructure:"window"`
	// EnquireLink is the interval between enquire_link keep-alives.
	// Default 30s; 1s to 1h.
	EnquireLink time.Duration `mapstructure:"enquire_link"`
	// ResponseTimeout is how long to wait for a response PDU before the
	// request counts as failed (and the bind as suspect). Default 10s;
	// 100ms to 5m.
	ResponseTimeout time.Duration `mapstructure:"response_timeout"`
	// ReconnectMin is the first delay before rebinding after a bind is
	// lost; it doubles up to ReconnectMax. Default 1s; > 0.
	ReconnectMin time.Duration `mapstructure:"reconnect_min"`
	// ReconnectMax is the longest delay between rebind attempts.
	// Default 60s; >= ReconnectMin.
	ReconnectMax time.Duration `mapstructure:"reconnect_max"`
	// TLS enables and configures TLS to the SMSC. Default off.
	TLS SMSCTLS `mapstructure:"tls"`
	// SourceTON is the source_addr_ton sent; nil (default) picks it from
	// the address (alphanumeric 5, international 1, short code 3). 0 to 6.
	SourceTON *int `mapstructure:"source_ton"`
	// SourceNPI is the source_addr_npi sent; nil (default) picks it from
	// the address (alphanumeric 0, else 1). 0 to 18.
	SourceNPI *int `mapstructure:"source_npi"`
	// DestTON is the dest_addr_ton sent; nil (default) is 1
	// (international). 0 to 6.
	DestTON *int `mapstructure:"dest_ton"`
	// DestNPI is the dest_addr_npi sent; nil (default) is 1 (E.164).
	// 0 to 18.
	DestNPI *int `mapstructure:"dest_npi"`
	// Encoding is the default message encoding when a submit says auto:
	// auto (default: GSM 03.38 when every character fits, else UCS-2),
	// gsm7 or ucs2.
	Encoding string `mapstructure:"encoding"`
	// Concat is how long messages are split: udh (default, 8-bit
	// reference UDH) or sar (SAR TLVs).
	Concat string `mapstructure:"concat"`
	// ReceiptIDFormat is how receipt ids relate to submit_sm_resp ids:
	// auto (default: match either form), hex or dec.
	ReceiptIDFormat string `mapstructure:"receipt_id_format"`
	// ErrorMap maps receipt stat/err to a bounce category, first match
	// wins; empty (default) uses the contract's defaults.
	ErrorMap []ErrorRule `mapstructure:"error_map"`
}

// SMSCTLS enables TLS for an SMSC connection.
type SMSCTLS struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `mapstructure:"enabled"`
	// TLSFiles are the CA, client certificate and server name options,
	// written inline (tls.ca_file, tls.cert_file, …).
	TLSFiles `mapstructure:",squash"`
}

// ErrorRule maps a delivery receipt's stat and err to a bounce category.
type ErrorRule struct {
	// Stat is the receipt stat it matches (DELIVRD, UNDELIV, EXPIRED,
	// REJECTD, DELETED, UNKNOWN, ACCEPTD, ENROUTE), case-insensitive.
	// Required.
	Stat string `mapstructure:"stat"`
	// Err is the receipt err (digits, as received) it matches; "" matches
	// any err.
	Err string `mapstructure:"err"`
	// Category is the result: hard_bounce, soft_bounce, carrier_violation
	// or unknown. Required.
	Category string `mapstructure:"category"`
}

// Route maps a destination prefix to SMSCs.
type Route struct {
	// Prefix is the E.164 destination prefix it matches, "+" followed by
	// 0 to 15 digits ("+" matches everything). Unique. Required.
	Prefix string `mapstructure:"prefix"`
	// SMSCs are SMSC names in failover order; each must be defined.
	// At least one.
	SMSCs []string `mapstructure:"smscs"`
}

// Messages configures outbound messages.
type Messages struct {
	// MaxParts is the most parts one message may be split into; longer
	// texts are refused. Default 10; 1 to 255.
	MaxParts int `mapstructure:"max_parts"`
	// SubmitAttempts is how many times a submit_sm is tried (across the
	// route's SMSCs) on temporary errors before message.failed. Default 5;
	// 1 to 100.
	SubmitAttempts int `mapstructure:"submit_attempts"`
	// SubmitWorkers is the number of concurrent submitters per gateway
	// process. Default 64; 1 to 4096.
	SubmitWorkers int `mapstructure:"submit_workers"`
	// IDTTL is how long the SMSC message id → message mapping is kept to
	// match late receipts. Default 72h; at least 1m.
	IDTTL time.Duration `mapstructure:"id_ttl"`
	// FinalRecordTTL is how long a message's record stays in the
	// sms_messages bucket, and each part's SMSC id in sms_smsc_ids, once
	// it is final (delivered, undelivered or failed). The final record is
	// archived in the SMS_RECORDS stream (30 days) first, and
	// GET /v1/messages/{id} answers from there afterwards; a receipt that
	// comes later than this for a final message is kept in SMS_UNMATCHED.
	// Keeps memory flat at a sustained rate (docs/NATS.md). Default 1m;
	// 1s to 720h.
	FinalRecordTTL time.Duration `mapstructure:"final_record_ttl"`
}

// Inbound configures mobile-originated messages.
type Inbound struct {
	// DefaultAccount owns inbound messages no account claims; "" (default)
	// leaves them unassigned. Must be a defined account id.
	DefaultAccount string `mapstructure:"default_account"`
	// ReplyWindow is how far back in_reply_to looks for the last message
	// sent to the number. Default 168h; > 0.
	ReplyWindow time.Duration `mapstructure:"reply_window"`
	// StopKeywords opt the sender out (case-insensitive, whole trimmed
	// text). Default STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT.
	StopKeywords []string `mapstructure:"stop_keywords"`
	// StartKeywords opt the sender back in. Default START, UNSTOP,
	// SUBSCRIBE. Must not overlap StopKeywords.
	StartKeywords []string `mapstructure:"start_keywords"`
	// ReassemblyTimeout is how long parts of a concatenated inbound
	// message wait for the rest before being dropped. Default 24h; > 0.
	ReassemblyTimeout time.Duration `mapstructure:"reassembly_timeout"`
}

// Webhook is a static webhook endpoint.
type Webhook struct {
	// Account is the account whose events it receives; must be defined.
	Account string `mapstructure:"account"`
	// URL is the absolute http(s) URL events are POSTed to. Required.
	URL string `mapstructure:"url"`
	// Events are the event types it receives: exact types from the
	// contract, "message.*", "contact.*" or "*". Default ["*"].
	Events []string `mapstructure:"events"`
	// Secret is the signing secret, "whsec_" followed by base64 (at least
	// 24 bytes decoded). Secret: never logged. Required.
	Secret string `mapstructure:"secret"`
	// Description is free text shown in listings. Optional.
	Description string `mapstructure:"description"`
	// RateLimit caps deliveries per second to this endpoint; 0 (default)
	// is unlimited; >= 0.
	RateLimit float64 `mapstructure:"rate_limit"`
	// Timeout is the per-attempt timeout; 0 (default) uses
	// bridge.timeout; 0 to 5m.
	Timeout time.Duration `mapstructure:"timeout"`
}

// Bridge configures webhook delivery.
type Bridge struct {
	// AllowPrivateTargets permits webhook URLs resolving to loopback,
	// private, link-local or unspecified addresses. Default false (true in
	// demo mode).
	AllowPrivateTargets bool `mapstructure:"allow_private_targets"`
	// Timeout is the default per-attempt timeout of a delivery. Default
	// 15s; 1s to 5m.
	Timeout time.Duration `mapstructure:"timeout"`
	// RetrySchedule is the delays before each retry after the first
	// attempt. Default 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h. Each > 0;
	// 1 to 50 steps.
	RetrySchedule []time.Duration `mapstructure:"retry_schedule"`
	// Jitter is the ± fraction applied to each retry delay. Default 0.2;
	// 0 to 1.
	Jitter float64 `mapstructure:"jitter"`
	// MaxInFlightPerEndpoint caps concurrent deliveries to one endpoint.
	// Default 16; 1 to 1024.
	MaxInFlightPerEndpoint int `mapstructure:"max_in_flight_per_endpoint"`
	// DisableAfter disables an endpoint that has failed every attempt for
	// this long. Default 120h; 0 never disables.
	DisableAfter time.Duration `mapstructure:"disable_after"`
	// StallTimeout makes readiness fail when a non-empty delivery queue
	// makes no progress for this long. Default 2m; > 0.
	StallTimeout time.Duration `mapstructure:"stall_timeout"`
}

// Simulator configures the bundled SMSC simulator.
type Simulator struct {
	// Enabled starts the simulator in-process with serve. Default false
	// (true in demo mode).
	Enabled bool `mapstructure:"enabled"`
	// Listen is the simulator's SMPP host:port. Default "127.0.0.1:2775".
	Listen string `mapstructure:"listen"`
	// HTTP is the simulator's control API host:port. Default
	// "127.0.0.1:2776"; "" disables it.
	HTTP string `mapstructure:"http"`
	// SystemID is the system_id the simulator accepts. Default "smsgw";
	// at most 15 characters.
	SystemID string `mapstructure:"system_id"`
	// Password is the password the simulator accepts. Default "secret";
	// at most 8 characters. Secret: never logged.
	Password string `mapstructure:"password"`
	// IDFormat is the form of message ids the simulator issues: hex
	// (default) or dec.
	IDFormat string `mapstructure:"id_format"`
	// ReceiptDelay is how long after submit_sm the simulator sends the
	// receipt. Default 100ms; 0 to 24h.
	ReceiptDelay time.Duration `mapstructure:"receipt_delay"`
	// TPS caps submit_sm per second before answering ESME_RTHROTTLED.
	// 0 (default) is unlimited; >= 0.
	TPS int `mapstructure:"tps"`
}

// Demo-mode values, applied by ApplyDemo.
const (
	// DemoAccountID is the account ApplyDemo adds.
	DemoAccountID = "demo"
	// DemoAPIKey is the demo account's API key; printed by serve in demo
	// mode. Only for local trials: it is public.
	DemoAPIKey = "demo-key"
	// DemoSender is the demo account's default sender.
	DemoSender = "SMSGW"
	// DemoSMSCName is the SMSC ApplyDemo points at the simulator.
	DemoSMSCName = "simulator"
)

// Default returns the configuration with every default filled in. It has no
// accounts, SMSCs, routes or webhooks; ApplyDemo turns it into the demo
// setup.
func Default() Config {
	return Config{
		DataDir: "./data",
		Log:     Log{Level: "info", Format: "text"},
		HTTP: HTTP{
			Addr:         "127.0.0.1:8080",
			MaxBodyBytes: 1 << 20,
			ReadTimeout:  30 * time.Second,
			WriteTimeout: 60 * time.Second,
			IdleTimeout:  120 * time.Second,
		},
		NATS: NATS{
			Listen:   "127.0.0.1:4222",
			Replicas: 1,
		},
		Messages: Messages{
			MaxParts:       10,
			SubmitAttempts: 5,
			SubmitWorkers:  64,
			IDTTL:          72 * time.Hour,
			FinalRecordTTL: time.Minute,
		},
		Inbound: Inbound{
			ReplyWindow:       168 * time.Hour,
			StopKeywords:      []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"},
			StartKeywords:     []string{"START", "UNSTOP", "SUBSCRIBE"},
			ReassemblyTimeout: 24 * time.Hour,
		},
		Bridge: Bridge{
			Timeout: 15 * time.Second,
			RetrySchedule: []time.Duration{
				5 * time.Second, 5 * time.Minute, 30 * time.Minute,
				2 * time.Hour, 5 * time.Hour, 10 * time.Hour,
				14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
			},
			Jitter:                 0.2,
			MaxInFlightPerEndpoint: 16,
			DisableAfter:           120 * time.Hour,
			StallTimeout:           2 * time.Minute,
		},
		Simulator: Simulator{
			Listen:       "127.0.0.1:2775",
			HTTP:         "127.0.0.1:2776",
			SystemID:     "smsgw",
			Password:     "secret",
			IDFormat:     "hex",
			ReceiptDelay: 100 * time.Millisecond,
		},
	}
}

// SMSCDefaults returns an SMSC with every default filled in; Load starts
// each smscs[i] from it so omitted keys get their defaults.
func SMSCDefaults() SMSC {
	return SMSC{
		Bind:            BindTransceiver,
		Binds:           1,
		Window:          64,
		EnquireLink:     30 * time.Second,
		ResponseTimeout: 10 * time.Second,
		ReconnectMin:    time.Second,
		ReconnectMax:    60 * time.Second,
		Encoding:        "auto",
		Concat:          "udh",
		ReceiptIDFormat: "auto",
	}
}

// WebhookDefaults returns a static webhook endpoint with its defaults: every
// event type ("*").
func WebhookDefaults() Webhook {
	return Webhook{Events: []string{"*"}}
}

// Bind modes of SMSC.Bind.
const (
	BindTransceiver         = "transceiver"
	BindTransmitterReceiver = "transmitter_receiver"
)

// ApplyDemo turns a config with no SMSCs and no accounts into the demo
// setup (contract sections 1 and 5): the simulator enabled as SMSC
// "simulator", a route "+" to it, account "demo" with API key "demo-key"
// and sender "SMSGW", and private webhook targets allowed (a local test
// receiver is the point of a demo). It reports whether it changed c; a
// config with any SMSC or account is left alone.
func (c *Config) ApplyDemo() bool {
	if len(c.SMSCs) > 0 || len(c.Accounts) > 0 {
		return false
	}
	c.Simulator.Enabled = true
	s := SMSCDefaults()
	s.Name = DemoSMSCName
	s.Addr = c.Simulator.Listen
	s.SystemID = c.Simulator.SystemID
	s.Password = c.Simulator.Password
	c.SMSCs = []SMSC{s}
	if len(c.Routes) == 0 {
		c.Routes = []Route{{Prefix: "+", SMSCs: []string{DemoSMSCName}}}
	}
	c.Accounts = []Account{{ID: DemoAccountID, APIKeys: []string{DemoAPIKey}, Sender: DemoSender}}
	c.Bridge.AllowPrivateTargets = true
	return true
}
