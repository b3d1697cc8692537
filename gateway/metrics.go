package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// apiMetrics are the HTTP side's metrics, registered on the registry given
// in APIConfig (never the global one).
type apiMetrics struct {
	requests *prometheus.CounterVec   // route, code
	duration *prometheus.HistogramVec // route
	accepted prometheus.Counter
	refused  *prometheus.CounterVec // reason
}

func newAPIMetrics(reg prometheus.Registerer) (*apiMetrics, error) {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smsgw_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsgw_api_messages_accepted_total",
			Help: "Messages accepted (stored and queued) through the HTTP API.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_api_messages_refused_total",
			Help: "Messages refused by the HTTP API, by reason (invalid, opted_out, unavailable, error).",
		}, []string{"reason"}),
	}
	for _, r := range []string{"invalid", "opted_out", "unavailable", "error"} {
		m.refused.WithLabelValues(r) // at zero from the start, not absent
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.accepted, m.refused} {
		if err := reg.Register(c); err != nil {
			if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
				_ = are // a second API on one registry (tests): share the first's
				continue
			}
			return nil, err
		}
	}
	return m, nil
}

// instrument wraps h to count and time it under the route label.
func (m *apiMetrics) instrument(route string, h http.Handler) http.Handler {
	dur := m.duration.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		dur.Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
