// Package smpp is smsgw's carrier-facing SMPP 3.4 client: binds and
// reconnects, windowed asynchronous submit with a shared TPS limit, GSM 03.38
// and UCS-2 encoding with segmentation, delivery-receipt parsing and
// inbound (MO) part handling. It builds on the PDU codec of
// github.com/fiorix/go-smpp.
//
// It knows nothing of NATS, HTTP or accounts: the gateway decides what a
// receipt or reply means and tells the session how to answer it.
package smpp
