// Package events is the event envelope shared by the gateway (which
// publishes) and the bridge (which delivers): the JSON shape, the event
// types and the NATS subjects and stream names they live under.
//
// It is deliberately small: no I/O beyond encoding.
package events
