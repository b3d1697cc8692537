// Package bridge turns events stored in JetStream into signed webhook
// deliveries (Standard Webhooks), with per-endpoint isolation, retries whose
// schedule lives in JetStream, and a dead-letter store. It also keeps the
// webhook endpoints (EndpointStore, KV bucket sms_webhooks) and serves the
// /v1/webhooks… routes (API).
//
// It does not talk SMPP and never calls the gateway; the two meet only
// through NATS.
package bridge
