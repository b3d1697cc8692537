package bridge

import (
	"errors"
	"fmt"
)

// Sentinel errors of the delivery side. The endpoint store's are in
// endpoint_errors.go.
var (
	// ErrPrivateTarget: the webhook URL resolved to a loopback, private,
	// link-local, CGNAT, unspecified, multicast or metadata address and
	// bridge.allow_private_targets is off.
	ErrPrivateTarget = errors.New("bridge: target address not allowed")
	// ErrClosed: the Bridge or Deliverer has been closed.
	ErrClosed = errors.New("bridge: closed")
	// ErrNotStarted: Ready was asked before Start.
	ErrNotStarted = errors.New("bridge: not started")
	// ErrStalled: a delivery queue has work but made no progress for
	// bridge.stall_timeout (see StallError).
	ErrStalled = errors.New("bridge: delivery stalled")
)

// StallError names the endpoint whose queue stalled; it matches ErrStalled.
type StallError struct {
	// EndpointID is the stalled endpoint ("_callback" for callback_url
	// deliveries, "_shared" for the shared consumer of every endpoint's
	// events: its dispatcher made no progress).
	EndpointID string
	// Pending is the number of events waiting for it.
	Pending uint64
	// Since is how long it has made no progress.
	Since string
}

func (e *StallError) Error() string {
	return fmt.Sprintf("bridge: delivery stalled: endpoint %s: %d pending, no progress for %s", e.EndpointID, e.Pending, e.Since)
}

// Unwrap lets errors.Is(err, ErrStalled) match.
func (e *StallError) Unwrap() error { return ErrStalled }

// HTTPStatusError is an attempt that got an answer other than 2xx; callers
// branch on Status.
type HTTPStatusError struct {
	Status int
}

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("bridge: endpoint answered %d", e.Status)
}
