package gateway

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsgw/smsgw/smpp"
)

// bindStates are the values of the state label of smsgw_smpp_bind_state;
// every bind reports each, with 1 on its current one, so a dashboard can
// sum by state without missing series.
var bindStates = []string{smpp.StateConnecting, smpp.StateBound, smpp.StateClosed}

// bindCollector reads every bind's state and window at scrape time, so
// the values are never older than the scrape and no goroutine polls.
type bindCollector struct {
	binds    func() map[string][]smpp.BindState
	state    *prometheus.Desc
	inFlight *prometheus.Desc
	window   *prometheus.Desc
}

var _ prometheus.Collector = (*bindCollector)(nil)

func newBindCollector(binds func() map[string][]smpp.BindState) *bindCollector {
	return &bindCollector{
		binds: binds,
		state: prometheus.NewDesc("smsgw_smpp_bind_state",
			"1 for the current state of each SMPP connection (connecting, bound, closed), 0 for the others.",
			[]string{"smsc", "bind", "state"}, nil),
		inFlight: prometheus.NewDesc("smsgw_smpp_window_in_use",
			"submit_sm sent on a bind and not yet answered (outstanding window slots).",
			[]string{"smsc", "bind"}, nil),
		window: prometheus.NewDesc("smsgw_smpp_window_size",
			"Window size (outstanding submit_sm allowed) of each transmit-capable bind.",
			[]string{"smsc", "bind"}, nil),
	}
}

func (c *bindCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.inFlight
	ch <- c.window
}

func (c *bindCollector) Collect(ch chan<- prometheus.Metric) {
	for smsc, binds := range c.binds() {
		for _, b := range binds {
			for _, s := range bindStates {
				v := 0.0
				if b.State == s {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, smsc, b.ID, s)
			}
			if b.Window > 0 {
				ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(b.InFlight), smsc, b.ID)
				ch <- prometheus.MustNewConstMetric(c.window, prometheus.GaugeValue, float64(b.Window), smsc, b.ID)
			}
		}
	}
}

// registerBindCollector adds the per-bind metrics of e to reg. A later
// engine on the same registry (a restart in one process) takes over the
// series from the earlier one, whose binds are closed.
func registerBindCollector(reg prometheus.Registerer, e *Engine) error {
	if reg == nil {
		return nil
	}
	c := newBindCollector(e.Binds)
	err := reg.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		reg.Unregister(are.ExistingCollector)
		err = reg.Register(c)
	}
	if err != nil {
		return fmt.Errorf("gateway: register bind metrics: %w", err)
	}
	return nil
}

// Submit results (the result label of smsgw_smpp_submits_total).
const (
	submitOK        = "ok"
	submitThrottled = "throttled" // ESME_RTHROTTLED / ESME_RMSGQFUL: retried after a pause
	submitTemporary = "temporary" // other temporary errors: retried
	submitPermanent = "permanent" // message.failed
)

// engSubmitResult is the result label of a failed submit.
func engSubmitResult(err error) string {
	var se *smpp.SubmitError
	if errors.As(err, &se) && (se.Status == smpp.StatusThrottled || se.Status == smpp.StatusMsgQFul) {
		return submitThrottled
	}
	if smpp.IsTemporary(err) {
		return submitTemporary
	}
	return submitPermanent
}

// registerOpsMetrics adds the per-bind collector and creates every SMSC's
// submit, unmatched and inbound series at zero, so "none yet" reads 0,
// not absent (rate() and alerts work from the start).
func (e *Engine) registerOpsMetrics(reg prometheus.Registerer) error {
	for _, name := range e.smscOrder {
		for _, r := range []string{submitOK, submitThrottled, submitTemporary, submitPermanent} {
			e.m.submits.WithLabelValues(name, r)
		}
		e.m.bindsUp.WithLabelValues(name)
		e.m.unmatched.WithLabelValues(name)
		for _, k := range []string{"message", "opt_out", "opt_in"} {
			e.m.inbound.WithLabelValues(name, k)
		}
	}
	return registerBindCollector(reg, e)
}
