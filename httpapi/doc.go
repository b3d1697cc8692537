// Package httpapi holds what every smsgw HTTP route shares: RFC 9457
// problem+json errors, JSON request decoding with limits and API-key
// authentication. The gateway's message routes and the bridge's webhook
// routes both use it, so clients see one error shape everywhere.
package httpapi
