// Package config is smsgw's one typed configuration: loaded from a YAML
// file, SMSGW_* environment variables and flags (through viper), given
// defaults for every key, and validated with errors that name the key path.
//
// Load reads file, env and flags in that order of precedence (flags win);
// unknown keys and type errors are problems like any other, and Load and
// Validate return *Problems listing every problem at once ("smscs[1].tps:
// must be 0 to 100000, is -5"). Default gives every default; ApplyDemo turns
// a config with no SMSCs and no accounts into the demo setup (bundled
// simulator, account "demo" with API key "demo-key"). Redacted and LogValue
// keep secrets out of output and logs. docs/CONFIG.md documents every key;
// its key table is generated from the field comments in config.go.
//
// It holds no behaviour of the components it configures.
package config
