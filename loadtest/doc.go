// Package loadtest is the engine behind `smsgw send --file` and
// `smsgw bench`: it reads submit bodies from CSV or JSONL files, sends them
// through the HTTP API (package client) at a steady rate with bounded
// concurrency, optionally in batches, and counts what was accepted and
// refused and why. Bench adds its own signature-verifying webhook receiver
// and measures throughput and submit-to-webhook latency.
//
// Nothing here prints: callers get results through callbacks and a
// Summary or Report, and render them.
package loadtest
