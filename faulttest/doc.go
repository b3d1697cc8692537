// Package faulttest holds smsgw's fault matrix: tests that break things on
// purpose while a bounded load runs, and then prove at the webhook receiver
// that no accepted message, receipt or reply was lost.
//
// Everything runs as it would in production, on loopback: three real
// nats-server processes forming a JetStream cluster (streams and buckets at
// three replicas), two `smsgw gateway` and two `smsgw bridge` processes
// built from this repository, the SMSC simulator (in the test process, so
// the test can switch its faults), and a webhook receiver that verifies
// every signature with the Standard Webhooks reference library and records
// every webhook-id per message.
//
// The package has no exported API; its tests are the product. Sizes and
// fault durations are small by default (make test); SMSGW_SOAK=1 (make
// soak) runs the same matrix with 100,000 messages and the full fault
// durations. docs/RELIABILITY.md lists what each test proves and the
// measured results.
package faulttest
