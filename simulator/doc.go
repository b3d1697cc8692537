// Package simulator is an SMPP 3.4 SMSC for tests and demos: it accepts
// binds, answers submit_sm, sends delivery receipts chosen by the
// destination number, injects mobile-originated messages and can misbehave
// on purpose (throttling, dropped connections, late or missing answers).
//
// It is shaped like net/http/httptest: Start it on 127.0.0.1:0, read Addr,
// Close it. It is not a production SMSC and stores nothing on disk.
package simulator
