package config

import (
	"log/slog"
	"net/url"
	"strings"
)

// RedactedValue replaces a secret that is set; an unset secret stays "" so
// a reader can still tell the two apart.
const RedactedValue = "<redacted>"

// Redacted returns a copy of c with every secret masked: NATS password and
// token, credentials in nats.url, API keys, SMSC passwords, webhook secrets
// and the simulator password. Use it whenever a config is printed or
// logged.
func (c Config) Redacted() Config {
	r := c
	r.NATS.Password = mask(c.NATS.Password)
	r.NATS.Token = mask(c.NATS.Token)
	r.NATS.URL = redactURLList(c.NATS.URL)
	r.Accounts = make([]Account, len(c.Accounts))
	for i, a := range c.Accounts {
		a.APIKeys = make([]string, len(c.Accounts[i].APIKeys))
		for j, k := range c.Accounts[i].APIKeys {
			a.APIKeys[j] = mask(k)
		}
		r.Accounts[i] = a
	}
	r.SMSCs = make([]SMSC, len(c.SMSCs))
	for i, s := range c.SMSCs {
		s.Password = mask(s.Password)
		r.SMSCs[i] = s
	}
	r.Webhooks = make([]Webhook, len(c.Webhooks))
	for i, w := range c.Webhooks {
		w.Secret = mask(w.Secret)
		r.Webhooks[i] = w
	}
	r.Simulator.Password = mask(c.Simulator.Password)
	return r
}

// redactedConfig has Config's fields but not its LogValue method, so
// logging it does not recurse.
type redactedConfig Config

// LogValue makes slog log the redacted config, so a config handed to a
// logger never leaks a secret.
func (c Config) LogValue() slog.Value {
	return slog.AnyValue(redactedConfig(c.Redacted()))
}

var _ slog.LogValuer = Config{}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return RedactedValue
}

func redactURLList(list string) string {
	if list == "" {
		return ""
	}
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
