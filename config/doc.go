// Package config is smsgw's one typed configuration: loaded from a YAML
// file, SMSGW_* environment variables and flags (through viper), given
// defaults for every key, and validated with errors that name the key path.
//
// It holds no behaviour of the components it configures.
package config
