package gateway

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// engMetrics are the engine's Prometheus metrics, registered on the
// registry given in EngineConfig (never the global one).
type engMetrics struct {
	submits     *prometheus.CounterVec // smsc, result
	bindsUp     *prometheus.GaugeVec   // smsc
	receipts    *prometheus.CounterVec // smsc, stat
	receiptsNow prometheus.Counter
	unmatched   *prometheus.CounterVec   // smsc
	inbound     *prometheus.CounterVec   // smsc, kind
	publish     *prometheus.HistogramVec // kind
	finalEvents *prometheus.CounterVec   // type
	submitSecs  *prometheus.HistogramVec // smsc
	receiptSecs *prometheus.HistogramVec // smsc
}

func newEngMetrics(reg prometheus.Registerer) (*engMetrics, error) {
	m := &engMetrics{
		submits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_smpp_submits_total",
			Help: "Messages submitted to an SMSC, by outcome: ok, throttled and temporary (retried), permanent (failed).",
		}, []string{"smsc", "result"}),
		bindsUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "smsgw_smpp_binds_up",
			Help: "SMPP connections currently bound, per SMSC.",
		}, []string{"smsc"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_receipts_total",
			Help: "Delivery receipts processed, by SMSC and normalised stat.",
		}, []string{"smsc", "stat"}),
		receiptsNow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsgw_receipts_at_once_total",
			Help: "Receipts recorded while their deliver_sm waited for its answer (the part's SMSC id known to this instance), without a trip through SMS_INBOUND.",
		}),
		unmatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_receipts_unmatched_total",
			Help: "Receipts whose message id never matched a submitted part, stored in SMS_UNMATCHED.",
		}, []string{"smsc"}),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_inbound_messages_total",
			Help: "Mobile-originated messages published (after reassembly), by SMSC and kind: message, opt_out, opt_in.",
		}, []string{"smsc", "kind"}),
		publish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smsgw_jetstream_publish_seconds",
			Help:    "Time to store an item in JetStream and get its acknowledgement, by kind: event, inbound.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"kind"}),
		finalEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_message_events_total",
			Help: "Message events published by the engine, by type.",
		}, []string{"type"}),
		submitSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smsgw_smpp_submit_seconds",
			Help:    "Time to submit every part of a message to an SMSC and get each submit_sm_resp (window and tps waits included), by SMSC.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"smsc"}),
		receiptSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smsgw_receipt_latency_seconds",
			Help:    "Time from a message's submit (submit_sm_resp) to the final receipt of its last part, by SMSC.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600},
		}, []string{"smsc"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.submits, err = engRegister(reg, m.submits); err != nil {
		return nil, err
	}
	if m.bindsUp, err = engRegister(reg, m.bindsUp); err != nil {
		return nil, err
	}
	if m.receipts, err = engRegister(reg, m.receipts); err != nil {
		return nil, err
	}
	if m.receiptsNow, err = engRegister(reg, m.receiptsNow); err != nil {
		return nil, err
	}
	if m.unmatched, err = engRegister(reg, m.unmatched); err != nil {
		return nil, err
	}
	if m.inbound, err = engRegister(reg, m.inbound); err != nil {
		return nil, err
	}
	if m.publish, err = engRegister(reg, m.publish); err != nil {
		return nil, err
	}
	if m.finalEvents, err = engRegister(reg, m.finalEvents); err != nil {
		return nil, err
	}
	if m.submitSecs, err = engRegister(reg, m.submitSecs); err != nil {
		return nil, err
	}
	if m.receiptSecs, err = engRegister(reg, m.receiptSecs); err != nil {
		return nil, err
	}
	return m, nil
}

// engRegister registers c, or returns the collector already registered
// under its name: a second engine on one registry (a restart in the same
// process) shares the first one's series.
func engRegister[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if prev, ok := are.ExistingCollector.(T); ok {
				return prev, nil
			}
		}
		return c, fmt.Errorf("gateway: register metrics: %w", err)
	}
	return c, nil
}
