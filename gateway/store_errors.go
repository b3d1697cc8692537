package gateway

import "errors"

// Store errors. Callers branch on them with errors.Is.
var (
	// ErrNotFound means no record under that id (or number) for the
	// account; the API answers 404 either way.
	ErrNotFound = errors.New("gateway: not found")
	// ErrUnavailable means NATS could not be reached or did not
	// acknowledge in time; the API answers 503 and the client may retry.
	ErrUnavailable = errors.New("gateway: message store unavailable")
	// ErrIdempotencyInProgress means another request with the same
	// Idempotency-Key is being processed; the API answers 409.
	ErrIdempotencyInProgress = errors.New("gateway: a request with this Idempotency-Key is in progress")
)
