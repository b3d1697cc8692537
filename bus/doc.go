// Package bus connects smsgw to NATS JetStream: it starts the embedded
// nats-server (file store under data_dir) when no URL is given, or connects
// to an external server or cluster with the usual NATS credentials and TLS
// options, and creates streams and key-value buckets idempotently.
//
// It knows the names of no stream but the events stream; each component
// declares its own streams and buckets through Stream and KV.
package bus
