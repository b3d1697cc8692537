package bridge

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// SecretPrefix starts every signing secret (Standard Webhooks).
const SecretPrefix = "whsec_"

// SecretGracePeriod is how long the previous secret keeps signing after a
// rotation, so receivers can switch over without losing deliveries.
const SecretGracePeriod = 24 * time.Hour

// Secret length bounds (decoded bytes). 24 is what NewSecret makes and what
// Standard Webhooks libraries expect at least; 64 is HMAC-SHA256's block
// size, beyond which a key adds nothing.
const (
	minSecretBytes = 24
	maxSecretBytes = 64
)

// NewSecret returns a fresh signing secret: "whsec_" + base64 of 24
// random bytes.
func NewSecret() string {
	b := make([]byte, minSecretBytes)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ValidateSecret checks that s is "whsec_" followed by standard base64 of
// 24 to 64 bytes. The message never contains the secret itself.
func ValidateSecret(s string) error {
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return fmt.Errorf("%w: must start with %q", ErrInvalidSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return fmt.Errorf("%w: not standard base64 after %q", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return fmt.Errorf("%w: decodes to %d bytes, want %d to %d", ErrInvalidSecret, len(key), minSecretBytes, maxSecretBytes)
	}
	return nil
}

// SecretKey returns the HMAC key of a secret (the base64 part decoded).
func SecretKey(s string) ([]byte, error) {
	if err := ValidateSecret(s); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
}
