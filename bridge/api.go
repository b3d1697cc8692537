package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/httpapi"
)

// MaxEndpointsPerAccount bounds how many endpoints one account may create
// through the API (each costs a durable consumer).
const MaxEndpointsPerAccount = 100

// APIConfig configures the /v1/webhooks… routes.
type APIConfig struct {
	// Store holds the endpoints. Required.
	Store *EndpointStore
	// Bus reads the events, attempts and dead-letter streams and publishes
	// replays. Required.
	Bus *bus.Bus
	// Deliverer makes the synchronous attempt of the test route (a
	// *Deliverer). Nil: the test route answers 503.
	Deliverer Attempter
	// AllowPrivateTargets accepts URLs whose host is a literal loopback or
	// private address (bridge.allow_private_targets). Names are checked by
	// the delivery guard at connect time either way.
	AllowPrivateTargets bool
	// Logger; nil discards.
	Logger *slog.Logger
}

// API serves the webhook endpoint routes of contract section 2. It is
// mounted on the gateway's mux, behind httpapi.Auth.
type API struct {
	store        *EndpointStore
	bus          *bus.Bus
	deliverer    Attempter
	allowPrivate bool
	log          *slog.Logger
	now          func() time.Time
}

// NewAPI checks cfg and returns the routes' handler set.
func NewAPI(cfg APIConfig) (*API, error) {
	if cfg.Store == nil || cfg.Bus == nil {
		return nil, errors.New("bridge: api: Store and Bus are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{
		store: cfg.Store, bus: cfg.Bus, deliverer: cfg.Deliverer,
		allowPrivate: cfg.AllowPrivateTargets, log: log, now: time.Now,
	}, nil
}

// Register adds the routes to mux. Authentication is the caller's: wrap
// the mux in httpapi.Auth so httpapi.Account is set.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/webhooks", a.create)
	mux.HandleFunc("GET /v1/webhooks", a.list)
	mux.HandleFunc("GET /v1/webhooks/{id}", a.get)
	mux.HandleFunc("PATCH /v1/webhooks/{id}", a.patch)
	mux.HandleFunc("DELETE /v1/webhooks/{id}", a.delete)
	mux.HandleFunc("POST /v1/webhooks/{id}/rotate-secret", a.rotate)
	mux.HandleFunc("POST /v1/webhooks/{id}/test", a.test)
	mux.HandleFunc("GET /v1/webhooks/{id}/attempts", a.attempts)
	mux.HandleFunc("POST /v1/webhooks/{id}/replay", a.replay)
}

// EndpointResource is an endpoint as API clients see it. Secret is set only
// in the answers to create and rotate-secret.
type EndpointResource struct {
	ID             string       `json:"id"`
	URL            string       `json:"url"`
	Events         []string     `json:"events"`
	Description    string       `json:"description"`
	Enabled        bool         `json:"enabled"`
	CreatedAt      events.Time  `json:"created_at"`
	Secret         string       `json:"secret,omitempty"`
	RateLimit      float64      `json:"rate_limit"`
	Static         bool         `json:"static,omitempty"`
	DisabledReason string       `json:"disabled_reason,omitempty"`
	FailingSince   *events.Time `json:"failing_since,omitempty"`
	// PreviousSecretExpiresAt is when the secret before the last rotation
	// stops signing (set while both sign).
	PreviousSecretExpiresAt *events.Time `json:"previous_secret_expires_at,omitempty"`
}

func (a *API) resource(ep Endpoint, withSecret bool) EndpointResource {
	r := EndpointResource{
		ID: ep.ID, URL: ep.URL, Events: ep.Events, Description: ep.Description, Enabled: ep.Enabled,
		CreatedAt: events.Time{Time: ep.CreatedAt}, RateLimit: ep.RateLimit, Static: ep.Static,
		DisabledReason: ep.DisabledReason,
	}
	if r.Events == nil {
		r.Events = []string{}
	}
	if ep.FailingSince != nil {
		r.FailingSince = events.At(*ep.FailingSince)
	}
	if withSecret && len(ep.Secrets) > 0 {
		r.Secret = ep.Secrets[0]
	}
	if len(ep.ActiveSecrets(a.now())) > 1 {
		r.PreviousSecretExpiresAt = events.At(ep.RotatedAt.Add(SecretGracePeriod))
	}
	return r
}

type apiCreateRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Secret      string   `json:"secret"`
	RateLimit   float64  `json:"rate_limit"`
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	account := httpapi.Account(r.Context())
	var req apiCreateRequest
	if p := httpapi.Decode(r, &req); p != nil {
		httpapi.WriteProblem(w, p)
		return
	}
	ep := Endpoint{
		Account: account, URL: req.URL, Events: req.Events, Description: req.Description,
		Enabled: true, RateLimit: req.RateLimit,
	}
	if ep.Events == nil {
		ep.Events = []string{FilterAll}
	}
	if req.Secret != "" {
		ep.Secrets = []string{req.Secret}
	} else {
		ep.Secrets = []string{NewSecret()}
	}
	if p := a.validate(ep); p != nil {
		httpapi.WriteProblem(w, p)
		return
	}
	existing, err := a.store.List(r.Context(), account)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if len(existing) >= MaxEndpointsPerAccount {
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusConflict,
			fmt.Sprintf("the account already has %d webhook endpoints, the most allowed; delete one first", MaxEndpointsPerAccount)))
		return
	}
	ep, err = a.store.Create(r.Context(), ep)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("webhook endpoint created", "account", account, "endpoint_id", ep.ID, "url", RedactURL(ep.URL))
	w.Header().Set("Location", "/v1/webhooks/"+ep.ID)
	httpapi.WriteJSON(w, http.StatusCreated, a.resource(ep, true))
}

// validate runs the endpoint's own checks plus the API-only ones and
// answers every problem at once.
func (a *API) validate(ep Endpoint) *httpapi.Problem {
	var fields []httpapi.FieldError
	var ve *EndpointValidationError
	if err := ep.Validate(); errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fields = append(fields, httpapi.FieldError{Field: f.Field, Message: f.Message})
		}
	} else if err != nil {
		fields = append(fields, httpapi.FieldError{Field: "", Message: err.Error()})
	}
	if msg := a.privateTarget(ep.URL); msg != "" {
		fields = append(fields, httpapi.FieldError{Field: "url", Message: msg})
	}
	if len(fields) == 0 {
		return nil
	}
	return httpapi.NewProblem(http.StatusBadRequest, "the webhook endpoint is invalid", fields...)
}

// privateTarget refuses, early and with a clear message, a URL whose host
// is literally an address the delivery guard would refuse anyway.
func (a *API) privateTarget(raw string) string {
	if a.allowPrivate {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return "must not point at localhost (bridge.allow_private_targets is off)"
	}
	if ip, err := netip.ParseAddr(host); err == nil && BlockedAddr(ip) {
		return "must not point at a loopback, private or link-local address (bridge.allow_private_targets is off)"
	}
	return ""
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	eps, err := a.store.List(r.Context(), httpapi.Account(r.Context()))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]EndpointResource, 0, len(eps))
	for _, ep := range eps {
		out = append(out, a.resource(ep, false))
	}
	httpapi.WriteJSON(w, http.StatusOK, struct {
		Webhooks []EndpointResource `json:"webhooks"`
	}{out})
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	ep, err := a.store.GetFor(r.Context(), httpapi.Account(r.Context()), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, a.resource(ep, false))
}

// apiPatchRequest: absent (or null) fields are left as they are.
type apiPatchRequest struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
	RateLimit   *float64  `json:"rate_limit"`
}

func (a *API) patch(w http.ResponseWriter, r *http.Request) {
	account, id := httpapi.Account(r.Context()), r.PathValue("id")
	var req apiPatchRequest
	if p := httpapi.Decode(r, &req); p != nil {
		httpapi.WriteProblem(w, p)
		return
	}
	var invalid *httpapi.Problem
	ep, err := a.store.UpdateFor(r.Context(), account, id, func(ep *Endpoint) error {
		if ep.Static && (req.URL != nil || req.Events != nil || req.Description != nil || req.RateLimit != nil) {
			return fmt.Errorf("%w: only enabled can be changed through the API", ErrStaticEndpoint)
		}
		if req.URL != nil {
			ep.URL = *req.URL
		}
		if req.Events != nil {
			ep.Events = *req.Events
		}
		if req.Description != nil {
			ep.Description = *req.Description
		}
		if req.RateLimit != nil {
			ep.RateLimit = *req.RateLimit
		}
		if req.Enabled != nil && *req.Enabled != ep.Enabled {
			ep.Enabled = *req.Enabled
			ep.FailingSince = nil
			ep.DisabledReason = ""
			if !ep.Enabled {
				ep.DisabledReason = "disabled through the API"
			}
		}
		if p := a.validate(*ep); p != nil {
			invalid = p
			return errEpUnchanged
		}
		return nil
	})
	if invalid != nil {
		httpapi.WriteProblem(w, invalid)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("webhook endpoint updated", "account", account, "endpoint_id", id, "enabled", ep.Enabled)
	httpapi.WriteJSON(w, http.StatusOK, a.resource(ep, false))
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	account, id := httpapi.Account(r.Context()), r.PathValue("id")
	ep, err := a.store.GetFor(r.Context(), account, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if ep.Static {
		a.fail(w, r, fmt.Errorf("%w: remove it from the config file", ErrStaticEndpoint))
		return
	}
	if err := a.store.Delete(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("webhook endpoint deleted", "account", account, "endpoint_id", id)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotate(w http.ResponseWriter, r *http.Request) {
	account, id := httpapi.Account(r.Context()), r.PathValue("id")
	if r.ContentLength > 0 {
		// The route takes no parameters; a body is accepted only if it is
		// an empty JSON object, so a typo is not silently ignored.
		var empty struct{}
		if p := httpapi.Decode(r, &empty); p != nil {
			httpapi.WriteProblem(w, p)
			return
		}
	}
	ep, _, err := a.store.RotateSecret(r.Context(), account, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("webhook secret rotated", "account", account, "endpoint_id", id)
	httpapi.WriteJSON(w, http.StatusOK, a.resource(ep, true))
}

// fail answers err as a problem: the store's sentinels map to 404, 400 and
// 409; anything else is NATS being unreachable or slow (503), logged.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *EndpointValidationError
	switch {
	case errors.Is(err, ErrEndpointNotFound):
		httpapi.NotFound(w)
	case errors.As(err, &ve):
		fields := make([]httpapi.FieldError, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			fields = append(fields, httpapi.FieldError{Field: f.Field, Message: f.Message})
		}
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusBadRequest, "the webhook endpoint is invalid", fields...))
	case errors.Is(err, ErrStaticEndpoint):
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusConflict, "this endpoint is declared in the config file"+
			strings.TrimPrefix(err.Error(), ErrStaticEndpoint.Error())))
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
	default:
		a.log.Error("webhook route failed", "method", r.Method, "path", r.URL.Path, "err", err)
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusServiceUnavailable, "the webhook store is unavailable; retry shortly"))
	}
}
