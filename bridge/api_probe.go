package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/httpapi"
)

// Attempter makes one signed delivery attempt now, without retries;
// *Deliverer implements it. Declared here, where it is used, so the routes
// can be tested against any receiver.
type Attempter interface {
	Attempt(ctx context.Context, ep Endpoint, e events.Event) AttemptResult
}

var _ Attempter = (*Deliverer)(nil)

// OutcomeTest marks, in the attempts log, an attempt made by the test
// route (it is never retried).
const OutcomeTest = "test"

// apiTestTimeout bounds the test route's attempt when the endpoint has no
// timeout of its own; below http.write_timeout (60s by default).
const apiTestTimeout = 30 * time.Second

// TestResult is the answer of POST /v1/webhooks/{id}/test.
type TestResult struct {
	EventID         string  `json:"event_id"`
	Status          int     `json:"status"`
	LatencyMS       float64 `json:"latency_ms"`
	ResponseExcerpt string  `json:"response_excerpt"`
	Error           string  `json:"error"`
}

func (a *API) test(w http.ResponseWriter, r *http.Request) {
	account, id := httpapi.Account(r.Context()), r.PathValue("id")
	if r.ContentLength > 0 {
		var empty struct{}
		if p := httpapi.Decode(r, &empty); p != nil {
			httpapi.WriteProblem(w, p)
			return
		}
	}
	ep, err := a.store.GetFor(r.Context(), account, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if a.deliverer == nil {
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusServiceUnavailable, "webhook delivery is not running in this process"))
		return
	}
	// A disabled endpoint may be tested: that is how an operator checks
	// it before enabling it again.
	e := events.New(events.WebhookTest, events.Data{EndpointID: ep.ID, URL: ep.URL, Sequence: 1})
	ctx := r.Context()
	if ep.Timeout <= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, apiTestTimeout)
		defer cancel()
	}
	res := a.deliverer.Attempt(ctx, ep, e)
	a.recordTest(r.Context(), ep, e, res)
	a.log.Info("webhook test", "account", account, "endpoint_id", ep.ID, "event_id", e.ID,
		"status", res.Status, "latency_ms", res.Latency.Milliseconds(), "err", res.Err)
	httpapi.WriteJSON(w, http.StatusOK, TestResult{
		EventID: e.ID, Status: res.Status, LatencyMS: float64(res.Latency.Microseconds()) / 1000,
		ResponseExcerpt: res.ResponseExcerpt, Error: res.Err,
	})
}

// recordTest adds the test attempt to the endpoint's attempts log, best
// effort: the log is a convenience and the answer already tells the caller.
func (a *API) recordTest(ctx context.Context, ep Endpoint, e events.Event, res AttemptResult) {
	b, err := json.Marshal(AttemptRecord{
		EventID: e.ID, EventType: e.Type, EndpointID: ep.ID, Attempt: 1, Status: res.Status,
		LatencyMS: float64(res.Latency.Microseconds()) / 1000, ResponseExcerpt: res.ResponseExcerpt,
		Error: res.Err, At: a.now().UTC(), Outcome: OutcomeTest, URL: RedactURL(ep.URL),
	})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if _, err := a.bus.JS.PublishMsg(ctx, &nats.Msg{Subject: AttemptsSubject(ep.ID), Data: b}); err != nil {
		a.log.Debug("test attempt not recorded", "endpoint_id", ep.ID, "err", err)
	}
}

// AttemptsPage is the answer of GET /v1/webhooks/{id}/attempts.
type AttemptsPage struct {
	Attempts []AttemptRecord `json:"attempts"`
}

func (a *API) attempts(w http.ResponseWriter, r *http.Request) {
	account, id := httpapi.Account(r.Context()), r.PathValue("id")
	limit := AttemptsPerEndpoint
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > AttemptsPerEndpoint {
			httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusBadRequest, "invalid query parameter",
				httpapi.FieldError{Field: "limit", Message: "must be a whole number from 1 to " + strconv.Itoa(AttemptsPerEndpoint)}))
			return
		}
		limit = n
	}
	if _, err := a.store.GetFor(r.Context(), account, id); err != nil {
		a.fail(w, r, err)
		return
	}
	recs, err := RecentAttempts(r.Context(), a.bus.JS, id, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if recs == nil {
		recs = []AttemptRecord{}
	}
	httpapi.WriteJSON(w, http.StatusOK, AttemptsPage{Attempts: recs})
}
