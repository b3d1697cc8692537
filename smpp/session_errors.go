package smpp

import (
	"errors"
	"fmt"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// Session sentinel errors. They are kept here rather than in errors.go (the
// codec half's file) so the two halves of the package never edit one file.
var (
	// ErrNotBound means no transmit-capable bind of the SMSC is up right now.
	// It is temporary: the binds keep reconnecting.
	ErrNotBound = errors.New("smpp: no bind is up")
	// ErrClosed means the SMSC was closed. It is reported temporary so that a
	// message caught by a shutdown is retried, not failed.
	ErrClosed = errors.New("smpp: smsc closed")
	// ErrTimeout means a request got no response within the response timeout.
	// The SMSC may still have accepted it.
	ErrTimeout = errors.New("smpp: response timeout")
	// ErrConnectionLost means the connection dropped while a request was
	// outstanding or waiting to be written.
	ErrConnectionLost = errors.New("smpp: connection lost")
	// ErrInvalidAddress means a source or destination address cannot be sent
	// as it is (empty, too long, or not a number where one is needed).
	ErrInvalidAddress = errors.New("smpp: invalid address")
	// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
	ErrInvalidConfig = errors.New("smpp: invalid config")
)

// SubmitError is the error of a submit that did not get ESME_ROK. Callers
// branch on Temporary (retry later or on another route) and Status (the
// SMPP command_status, 0 when the failure was local: timeout, connection
// loss, bad address).
type SubmitError struct {
	Status    pdu.Status // command_status of submit_sm_resp / generic_nack; 0 if none
	Temporary bool       // true: retrying later may succeed
	Part      int        // 1-based index of the failing part
	Err       error      // cause; pdu.Status itself for SMSC rejections
}

// Error implements error.
func (e *SubmitError) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	if e.Status != 0 {
		return fmt.Sprintf("smpp: submit part %d: %v (status 0x%08x, %s)", e.Part, e.Err, uint32(e.Status), kind)
	}
	return fmt.Sprintf("smpp: submit part %d: %v (%s)", e.Part, e.Err, kind)
}

// Unwrap returns the cause.
func (e *SubmitError) Unwrap() error { return e.Err }

// BindError is the error of a bind the SMSC refused (bind_resp with a
// non-zero command_status, e.g. ESME_RINVPASWD).
type BindError struct {
	Status pdu.Status
}

// Error implements error.
func (e *BindError) Error() string {
	return fmt.Sprintf("smpp: bind refused: %v (status 0x%08x)", e.Status, uint32(e.Status))
}

// Unwrap returns the status, so errors.Is(err, pdu.Status(0x0e)) works.
func (e *BindError) Unwrap() error { return e.Status }

// IsTemporary reports whether err is worth retrying: throttling, a full SMSC
// queue, timeouts, connection loss, no bind up, a closing SMSC, or any other
// SMPP status that StatusTemporary classifies as temporary. Permanent SMPP
// errors (bad address, bad data) and nil are false.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var se *SubmitError
	if errors.As(err, &se) {
		return se.Temporary
	}
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrConnectionLost),
		errors.Is(err, ErrNotBound), errors.Is(err, ErrClosed):
		return true
	}
	var st pdu.Status
	if errors.As(err, &st) {
		return StatusTemporary(st)
	}
	return false
}
