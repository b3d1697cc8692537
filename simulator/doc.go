// Package simulator is an SMPP 3.4 SMSC for tests and demos: it accepts
// binds, answers submit_sm, sends delivery receipts chosen by the
// destination number, injects mobile-originated messages and can misbehave
// on purpose (throttling, dropped connections, late or missing answers).
//
// It is shaped like net/http/httptest: Start it on 127.0.0.1:0, read Addr,
// Close it. It is not a production SMSC and stores nothing on disk.
//
// Incoming PDUs are decoded with fiorix/go-smpp's pdu package. Receipts and
// MO messages are retried until a receiver bind answers them ESME_ROK, like
// a real SMSC; docs/SIMULATOR.md describes every behaviour and choice.
package simulator
