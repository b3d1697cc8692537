package gateway

import "errors"

// Engine errors. Callers branch on them with errors.Is.
var (
	// ErrEngineClosed is returned by Start after Close, and by a second
	// Start.
	ErrEngineClosed = errors.New("gateway: engine closed or already started")
	// ErrEngineNotReady wraps the reason Ready gives when no SMSC has a
	// bound session (or the engine is not running).
	ErrEngineNotReady = errors.New("gateway: engine not ready")
	// ErrNoRoute means no route (or requested route) leads to an SMSC for
	// the message's destination; the message fails.
	ErrNoRoute = errors.New("gateway: no route")
	// ErrBadEngineConfig wraps every problem NewEngine finds in its
	// configuration.
	ErrBadEngineConfig = errors.New("gateway: invalid engine config")
)
