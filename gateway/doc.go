// Package gateway is the HTTP submit API and the SMPP side of smsgw: it
// validates and stores submissions in JetStream, routes them to SMSCs,
// correlates receipts and replies, and publishes every event to JetStream
// before anything else is told about it.
//
// It does not deliver webhooks; the bridge reads the events it publishes.
package gateway
