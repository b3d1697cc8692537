package config

import "errors"

// ErrSyntax is returned (wrapped) when the config file is not valid YAML or
// its top level is not a mapping.
var ErrSyntax = errors.New("config: invalid YAML")

// ErrUnknownKey is returned (wrapped) when code names a config key that does
// not exist, e.g. BindFlag with a misspelt key. Unknown keys in a file or
// the environment are reported as Problems instead.
var ErrUnknownKey = errors.New("unknown config key")
