package simulator

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers compare with errors.Is.
var (
	// ErrNoReceiver is returned by InjectMO when no receiver or transceiver
	// bind is connected, so the message could not be queued for anyone.
	ErrNoReceiver = errors.New("simulator: no receiver bind connected")

	// ErrInvalidMO is returned by InjectMO for a message with an empty or
	// unusable from, to or text.
	ErrInvalidMO = errors.New("simulator: invalid mobile-originated message")

	// ErrMOTooLong is returned by InjectMO when the text needs more than
	// the 255 parts an 8-bit concatenation header can number.
	ErrMOTooLong = errors.New("simulator: text needs more than 255 parts")

	// ErrClosed is returned by calls on a Server that has been closed.
	ErrClosed = errors.New("simulator: server closed")
)

// ConfigError describes one invalid Config field. Start returns every
// problem at once, joined with errors.Join.
type ConfigError struct {
	Field   string // path of the field, e.g. "Rules[2].Stat"
	Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("simulator: config %s: %s", e.Field, e.Problem)
}
