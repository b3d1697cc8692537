package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/httpapi"
)

// APIConfig configures NewAPI.
type APIConfig struct {
	// Store keeps records, idempotency answers and opt-outs. Required.
	Store *Store
	// Bus adds the "nats" readiness check (bus.Ping). Optional.
	Bus *bus.Bus
	// Accounts are the API clients: their keys authenticate requests and
	// their senders are the default from.
	Accounts []config.Account
	// SMSCs are the configured SMSC names a submit's route may name.
	SMSCs []string
	// MaxParts is messages.max_parts. Default 10.
	MaxParts int
	// MaxBodyBytes caps request bodies (413 above). Default 1 MiB.
	MaxBodyBytes int64
	// Checks are readiness checks besides "nats"; more can be added
	// later with AddCheck.
	Checks []Check
	// CheckTimeout bounds all readiness checks together. Default 2s.
	CheckTimeout time.Duration
	// Registry receives the API's metrics and is served on /metrics; nil
	// makes a private one.
	Registry *prometheus.Registry
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// API is the gateway's HTTP API: message submit and lookup, opt-outs,
// health and metrics. The bridge's webhook routes join it through V1.
type API struct {
	store    *Store
	log      *slog.Logger
	now      func() time.Time
	keys     httpapi.Keys
	senders  map[string]string // account → default from
	val      validator
	maxBody  int64
	reg      *prometheus.Registry
	metrics  *apiMetrics
	health   *healthChecks
	v1       *http.ServeMux
	handler  http.Handler
	optLimit chan struct{} // bounds concurrent opt-out lookups in a batch
}

// NewAPI checks cfg and builds the routes.
func NewAPI(cfg APIConfig) (*API, error) {
	if cfg.Store == nil {
		return nil, errors.New("gateway: api: Store is required")
	}
	if cfg.MaxParts <= 0 {
		cfg.MaxParts = 10
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = httpapi.DefaultMaxBodyBytes
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	m, err := newAPIMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("gateway: api metrics: %w", err)
	}
	a := &API{
		store: cfg.Store, log: cfg.Logger, now: cfg.Now,
		keys: httpapi.Keys{}, senders: map[string]string{},
		val:     validator{maxParts: cfg.MaxParts, smscs: map[string]bool{}},
		maxBody: cfg.MaxBodyBytes, reg: cfg.Registry, metrics: m,
		health:   &healthChecks{timeout: cfg.CheckTimeout},
		v1:       http.NewServeMux(),
		optLimit: make(chan struct{}, 32),
	}
	for _, acct := range cfg.Accounts {
		a.senders[acct.ID] = acct.Sender
		for _, k := range acct.APIKeys {
			if other, dup := a.keys[k]; dup && other != acct.ID {
				return nil, fmt.Errorf("gateway: api: an API key is shared by accounts %s and %s", other, acct.ID)
			}
			a.keys[k] = acct.ID
		}
	}
	for _, s := range cfg.SMSCs {
		a.val.smscs[s] = true
	}
	if cfg.Bus != nil {
		a.health.add(Check{Name: "nats", Fn: cfg.Bus.Ping})
	}
	a.health.add(cfg.Checks...)
	a.routes()
	return a, nil
}

// AddCheck adds readiness checks (the engine's binds, the bridge).
func (a *API) AddCheck(c ...Check) { a.health.add(c...) }

// Keys are the API keys of every account (for the bridge's routes).
func (a *API) Keys() httpapi.Keys { return a.keys }

// V1 is the authenticated mux behind /v1/: requests reaching it carry
// their account (httpapi.Account) and a capped body. The bridge registers
// its /v1/webhooks routes here.
func (a *API) V1() *http.ServeMux { return a.v1 }

// Instrument wraps h with the API's request metrics under route (use the
// mux pattern); the bridge may use it for its routes.
func (a *API) Instrument(route string, h http.Handler) http.Handler {
	return a.metrics.instrument(route, h)
}

// Handler is the whole HTTP API: /v1/ (authenticated), /healthz, /readyz
// and /metrics. Unknown routes and wrong methods answer problem+json.
func (a *API) Handler() http.Handler { return a.handler }

func (a *API) routes() {
	handle := func(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, a.metrics.instrument(pattern, h))
	}
	handle(a.v1, "POST /v1/messages", a.apiSubmit)
	handle(a.v1, "POST /v1/messages/batch", a.apiBatch)
	handle(a.v1, "GET /v1/messages/{id}", a.apiGetMessage)
	handle(a.v1, "GET /v1/optouts", a.apiListOptOuts)
	handle(a.v1, "POST /v1/optouts", a.apiAddOptOut)
	handle(a.v1, "DELETE /v1/optouts/{number}", a.apiRemoveOptOut)

	root := http.NewServeMux()
	root.Handle("/v1/", httpapi.Auth(a.keys, httpapi.MaxBytes(a.maxBody, a.v1)))
	handle(root, "GET /healthz", a.healthz)
	handle(root, "GET /readyz", a.readyz)
	root.Handle("GET /metrics", a.metrics.instrument("GET /metrics",
		promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg})))
	a.handler = httpapi.ProblemErrors(root)
}

// apiSubmitAnswer is what a submit produces: an HTTP status and a body
// (the message resource or a problem).
type apiSubmitAnswer struct {
	status  int
	message *MessageResource
	problem *httpapi.Problem
}

// apiIdemKey reads and checks the Idempotency-Key header.
func apiIdemKey(r *http.Request) (string, *httpapi.Problem) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", nil
	}
	if len(k) > 255 || !utf8.ValidString(k) {
		return "", httpapi.NewProblem(http.StatusBadRequest, "invalid Idempotency-Key header",
			httpapi.FieldError{Field: "Idempotency-Key", Message: "must be valid UTF-8 of at most 255 bytes"})
	}
	return k, nil
}

// apiReadBody reads a JSON body, refusing invalid UTF-8 up front: the JSON
// decoder would silently replace it, and the contract wants text refused.
func apiReadBody(r *http.Request) ([]byte, *httpapi.Problem) {
	body, p := httpapi.ReadBody(r)
	if p != nil {
		return nil, p
	}
	if !utf8.Valid(body) {
		return nil, httpapi.NewProblem(http.StatusBadRequest, "request body is not valid UTF-8")
	}
	return body, nil
}

// apiIdempotent runs fn at most once per (account, scope, key) within the
// idempotency TTL: a retry gets the first accepted answer back (with
// header Idempotent-Replayed: true). Refused requests are not remembered,
// so a corrected retry with the same key is processed.
func (a *API) apiIdempotent(w http.ResponseWriter, r *http.Request, account, scope, key string,
	fn func() (status int, body any, ok bool)) {
	if key == "" {
		status, body, _ := fn()
		a.writeAny(w, status, body)
		return
	}
	prev, res, err := a.store.ReserveIdempotency(r.Context(), account, scope, key)
	switch {
	case errors.Is(err, ErrIdempotencyInProgress):
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusConflict,
			"a request with this Idempotency-Key is still being processed; retry shortly"))
		return
	case err != nil:
		a.writeAny(w, 0, a.storeProblem(err))
		return
	case prev != nil:
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(prev.Status)
		_, _ = w.Write(append(prev.Body, '\n'))
		return
	}
	status, body, ok := fn()
	if !ok {
		res.Release(r.Context())
		a.writeAny(w, status, body)
		return
	}
	enc, _ := apiMarshal(body)
	if err := res.Finish(r.Context(), status, enc); err != nil {
		// The message is accepted; only the memory of the answer is lost.
		a.log.Warn("could not store idempotent answer", "account", account, "err", err)
	}
	a.writeAny(w, status, body)
}

func (a *API) writeAny(w http.ResponseWriter, status int, body any) {
	switch b := body.(type) {
	case *httpapi.Problem:
		if b.Status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		httpapi.WriteProblem(w, b)
	case MessageResource:
		w.Header().Set("Location", "/v1/messages/"+b.ID)
		apiWriteJSON(w, status, b)
	default:
		apiWriteJSON(w, status, b)
	}
}

// storeProblem maps a store error to a problem; details of internal errors
// are logged, never sent.
func (a *API) storeProblem(err error) *httpapi.Problem {
	if errors.Is(err, ErrUnavailable) {
		return httpapi.NewProblem(http.StatusServiceUnavailable, "message store is unavailable; retry later")
	}
	a.log.Error("store error", "err", err)
	return httpapi.NewProblem(http.StatusInternalServerError, "internal error")
}

func (a *API) apiSubmit(w http.ResponseWriter, r *http.Request) {
	account := httpapi.Account(r.Context())
	key, p := apiIdemKey(r)
	if p != nil {
		httpapi.WriteProblem(w, p)
		return
	}
	body, p := apiReadBody(r)
	if p != nil {
		a.metrics.refused.WithLabelValues("invalid").Inc()
		httpapi.WriteProblem(w, p)
		return
	}
	var sb SubmitBody
	if p := apiDecodeSubmit(body, &sb); p != nil {
		a.metrics.refused.WithLabelValues("invalid").Inc()
		httpapi.WriteProblem(w, p)
		return
	}
	m, p := a.val.validate(&sb, account, a.senders[account], "")
	if p != nil {
		a.metrics.refused.WithLabelValues("invalid").Inc()
		httpapi.WriteProblem(w, p)
		return
	}
	a.apiIdempotent(w, r, account, "submit", key, func() (int, any, bool) {
		ans := a.acceptMany(r.Context(), []*Message{m})[0]
		if ans.problem != nil {
			return ans.problem.Status, ans.problem, false
		}
		return ans.status, *ans.message, true
	})
}

// acceptMany checks opt-outs and stores every message (nil entries are
// skipped, their answer left zero), in order.
func (a *API) acceptMany(ctx context.Context, msgs []*Message) []apiSubmitAnswer {
	out := make([]apiSubmitAnswer, len(msgs))
	optedOut := func() *httpapi.Problem {
		p := httpapi.NewProblem(http.StatusUnprocessableEntity, "the recipient is on the account's opt-out list",
			httpapi.FieldError{Field: "to", Message: "has opted out"})
		p.Type = httpapi.TypeOptedOut
		return p
	}
	// Opt-out lookups answer from the watched copy when it is fresh;
	// the others run concurrently: a batch of 1000 would otherwise pay
	// 1000 sequential round trips.
	var wg sync.WaitGroup
	for i, m := range msgs {
		if m == nil {
			continue
		}
		if has, ok := a.store.hasCached(m.Account, m.To); ok {
			if has {
				out[i].problem = optedOut()
			}
			continue
		}
		a.optLimit <- struct{}{}
		wg.Go(func() {
			defer func() { <-a.optLimit }()
			has, err := a.store.Has(ctx, m.Account, m.To)
			switch {
			case err != nil:
				out[i].problem = a.storeProblem(err)
			case has:
				out[i].problem = optedOut()
			}
		})
	}
	wg.Wait()
	var todo []*Message
	var idx []int
	now := a.now().UTC()
	for i, m := range msgs {
		if m == nil || out[i].problem != nil {
			continue
		}
		m.ID = events.NewMessageID()
		m.CreatedAt = now
		todo = append(todo, m)
		idx = append(idx, i)
	}
	if len(todo) > 0 {
		errs := a.store.Accept(ctx, todo)
		for j, err := range errs {
			i := idx[j]
			if err != nil {
				out[i].problem = a.storeProblem(err)
				continue
			}
			res := todo[j].Resource()
			out[i] = apiSubmitAnswer{status: http.StatusAccepted, message: &res}
		}
	}
	for i := range out {
		switch {
		case msgs[i] == nil:
		case out[i].problem == nil:
			a.metrics.accepted.Inc()
		case out[i].problem.Status == http.StatusUnprocessableEntity:
			a.metrics.refused.WithLabelValues("opted_out").Inc()
		case out[i].problem.Status == http.StatusServiceUnavailable:
			a.metrics.refused.WithLabelValues("unavailable").Inc()
		default:
			a.metrics.refused.WithLabelValues("error").Inc()
		}
	}
	return out
}

// BatchResult is one item's outcome: Status 202 with Message, or an error
// status with Error.
type BatchResult struct {
	Status  int              `json:"status"`
	Message *MessageResource `json:"message,omitempty"`
	Error   *httpapi.Problem `json:"error,omitempty"`
}

// BatchAnswer is the 207 body of the batch route.
type BatchAnswer struct {
	Results []BatchResult `json:"results"`
}

func (a *API) apiBatch(w http.ResponseWriter, r *http.Request) {
	account := httpapi.Account(r.Context())
	key, p := apiIdemKey(r)
	if p != nil {
		httpapi.WriteProblem(w, p)
		return
	}
	body, p := apiReadBody(r)
	if p != nil {
		httpapi.WriteProblem(w, p)
		return
	}
	// The usual batch (every item a plain submit body) is decoded in one
	// pass; anything else item by item with encoding/json, whose problems
	// name what is wrong.
	fast, isFast := apiDecodeBatchFast(body)
	var bb struct {
		Messages *[]json.RawMessage `json:"messages"`
	}
	n := len(fast)
	if !isFast {
		if p := httpapi.DecodeBytes(body, &bb); p != nil {
			httpapi.WriteProblem(w, p)
			return
		}
		if bb.Messages == nil {
			httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusBadRequest, "the batch is invalid",
				httpapi.FieldError{Field: "messages", Message: "is required"}))
			return
		}
		n = len(*bb.Messages)
	}
	if n == 0 || n > MaxBatch {
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusBadRequest, "the batch is invalid",
			httpapi.FieldError{Field: "messages", Message: fmt.Sprintf("must have 1 to %d items, not %d", MaxBatch, n)}))
		return
	}
	if err := a.store.connected(); err != nil {
		a.writeAny(w, 0, a.storeProblem(err))
		return
	}
	a.apiIdempotent(w, r, account, "batch", key, func() (int, any, bool) {
		results := make([]BatchResult, n)
		msgs := make([]*Message, n)
		for i := range n {
			var sb SubmitBody
			var p *httpapi.Problem
			if isFast {
				sb = fast[i]
			} else {
				p = httpapi.DecodeBytes((*bb.Messages)[i], &sb)
			}
			if p == nil {
				msgs[i], p = a.val.validate(&sb, account, a.senders[account], "")
			}
			if p != nil {
				a.metrics.refused.WithLabelValues("invalid").Inc()
				results[i] = BatchResult{Status: p.Status, Error: p}
			}
		}
		for i, ans := range a.acceptMany(r.Context(), msgs) {
			switch {
			case msgs[i] == nil:
			case ans.problem != nil:
				results[i] = BatchResult{Status: ans.problem.Status, Error: ans.problem}
			default:
				results[i] = BatchResult{Status: ans.status, Message: ans.message}
			}
		}
		return http.StatusMultiStatus, BatchAnswer{Results: results}, true
	})
}

func (a *API) apiGetMessage(w http.ResponseWriter, r *http.Request) {
	account := httpapi.Account(r.Context())
	// A message still queued has no record in KV yet: findMessage looks
	// in the submit queue too.
	m, _, err := a.store.findMessage(r.Context(), account, r.PathValue("id"))
	switch {
	case errors.Is(err, ErrNotFound):
		httpapi.NotFound(w)
		return
	case err != nil:
		a.writeAny(w, 0, a.storeProblem(err))
		return
	case m.Account != account:
		httpapi.NotFound(w) // never reveal another account's message
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, m.ResourceWithEvents())
}

// OptOutBody is the body of POST /v1/optouts.
type OptOutBody struct {
	Number string `json:"number"`
}

// OptOutList is the answer of GET /v1/optouts.
type OptOutList struct {
	OptOuts []OptOut `json:"optouts"`
}

func (a *API) apiListOptOuts(w http.ResponseWriter, r *http.Request) {
	list, err := a.store.List(r.Context(), httpapi.Account(r.Context()))
	if err != nil {
		a.writeAny(w, 0, a.storeProblem(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, OptOutList{OptOuts: list})
}

func (a *API) apiAddOptOut(w http.ResponseWriter, r *http.Request) {
	var b OptOutBody
	if p := httpapi.Decode(r, &b); p != nil {
		httpapi.WriteProblem(w, p)
		return
	}
	n, err := NormalizeE164(b.Number)
	if err != nil {
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusBadRequest, "the opt-out is invalid",
			httpapi.FieldError{Field: "number", Message: err.Error()}))
		return
	}
	o, created, err := a.store.AddOptOut(r.Context(), httpapi.Account(r.Context()), n, "")
	if err != nil {
		a.writeAny(w, 0, a.storeProblem(err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpapi.WriteJSON(w, status, o)
}

func (a *API) apiRemoveOptOut(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimSpace(r.PathValue("number"))
	if raw != "" && !strings.HasPrefix(raw, "+") {
		raw = "+" + raw // "+" is awkward in a path; digits alone are accepted
	}
	n, err := NormalizeE164(raw)
	if err != nil {
		httpapi.NotFound(w) // no such number can be on the list
		return
	}
	switch err := a.store.Remove(r.Context(), httpapi.Account(r.Context()), n); {
	case errors.Is(err, ErrNotFound):
		httpapi.NotFound(w)
	case err != nil:
		a.writeAny(w, 0, a.storeProblem(err))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
