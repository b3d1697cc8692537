package bridge

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// dlvMetrics are the bridge's Prometheus metrics.
type dlvMetrics struct {
	deliveries       *prometheus.CounterVec
	attemptSeconds   prometheus.Histogram
	queueDepth       prometheus.Gauge
	deadLetters      prometheus.Counter
	disabled         prometheus.Counter
	attemptLogErrors prometheus.Counter
	dials            prometheus.CounterFunc
	queued           *prometheus.CounterVec
	queuedN          atomic.Int64                  // queued's total, for the benchmark
	byOutcome        map[string]prometheus.Counter // deliveries' children, resolved once
}

// Reasons of smsgw_webhook_endpoint_queue_events_total.
const (
	queuedRetry   = "retry"
	queuedBusy    = "busy"
	queuedCatchUp = "catch_up"
)

// delivered counts one attempt of outcome.
func (m *dlvMetrics) delivered(outcome string) {
	if c, ok := m.byOutcome[outcome]; ok {
		c.Inc()
		return
	}
	m.deliveries.WithLabelValues(outcome).Inc()
}

// newMetrics builds the metrics; dials (nil: none) reads the connections
// opened so far.
func newMetrics(reg prometheus.Registerer, dials func() int64) (*dlvMetrics, error) {
	if dials == nil {
		dials = func() int64 { return 0 }
	}
	m := &dlvMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome (delivered, retry, throttled, disabled, dead_letter).",
		}, []string{"outcome"}),
		attemptSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "smsgw_webhook_attempt_seconds",
			Help:    "Duration of one webhook HTTP attempt, from request to the end of the answer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30, 60},
		}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smsgw_webhook_retry_queue_depth",
			Help: "Events waiting for delivery or for a scheduled retry, over every endpoint (JetStream consumer pending + ack pending).",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsgw_webhook_dead_letter_total",
			Help: "Events moved to the dead-letter store after their last attempt.",
		}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsgw_webhook_endpoints_disabled_total",
			Help: "Endpoints disabled by the bridge (410 Gone or failing for bridge.disable_after).",
		}),
		attemptLogErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsgw_webhook_attempt_log_errors_total",
			Help: "Attempt records that could not be stored in the attempts log.",
		}),
		dials: prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "smsgw_webhook_connections_opened_total",
			Help: "Connections opened to webhook receivers (keep-alive: it grows with the endpoints and their concurrency, not with deliveries).",
		}, func() float64 { return float64(dials()) }),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_webhook_endpoint_queue_events_total",
			Help: "Events the bridge put in an endpoint's own queue instead of delivering them from the shared consumer: retry (a failed attempt waiting for its retry), busy (the endpoint was failing, paused or slow), catch_up (resolved before the bridge knew the endpoint).",
		}, []string{"reason"}),
	}
	outcomes := []string{OutcomeDelivered, OutcomeRetry, OutcomeThrottled, OutcomeDisabled, OutcomeDeadLetter}
	resolve := func() {
		m.byOutcome = make(map[string]prometheus.Counter, len(outcomes))
		for _, o := range outcomes {
			m.byOutcome[o] = m.deliveries.WithLabelValues(o)
		}
		for _, r := range []string{queuedRetry, queuedBusy, queuedCatchUp} {
			m.queued.WithLabelValues(r)
		}
	}
	if reg == nil {
		resolve()
		return m, nil
	}
	var err error
	m.deliveries = metricsRegister(reg, m.deliveries, &err)
	m.attemptSeconds = metricsRegister(reg, m.attemptSeconds, &err)
	m.queueDepth = metricsRegister(reg, m.queueDepth, &err)
	m.deadLetters = metricsRegister(reg, m.deadLetters, &err)
	m.disabled = metricsRegister(reg, m.disabled, &err)
	m.attemptLogErrors = metricsRegister(reg, m.attemptLogErrors, &err)
	m.dials = metricsRegister(reg, m.dials, &err)
	m.queued = metricsRegister(reg, m.queued, &err)
	if err != nil {
		return nil, err
	}
	resolve()
	return m, nil
}

// metricsRegister registers c, or returns the collector already registered
// under its name (two Bridges on one registry share their metrics).
func metricsRegister[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		if *errp == nil {
			*errp = err
		}
	}
	return c
}
