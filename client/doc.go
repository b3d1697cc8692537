// Package client is a small Go client for smsgw's HTTP API (contract
// section 2): submit one message or a batch, read a message with its event
// history, and manage webhook endpoints.
//
// Every method takes a context. An answer that is not the expected 2xx
// comes back as a *Problem (the server's problem+json, or one synthesised
// from the status when the body is not problem+json), so callers branch with
// errors.As or errors.Is against the sentinels in errors.go. A request that
// never got an answer (refused connection, timeout) is a *TransportError.
//
// The client declares its own resource types instead of importing the
// gateway package: it is meant for programs outside the gateway process and
// follows the wire contract, not the server's internals.
package client
