package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

// EndpointsBucket is the KV bucket holding every webhook endpoint (with its
// secrets), keyed by endpoint id.
const EndpointsBucket = "sms_webhooks"

// EndpointIDPrefix starts every endpoint id.
const EndpointIDPrefix = "ep_"

// Event filters beyond the exact types of events.Types.
const (
	FilterAll      = "*"
	FilterMessages = "message.*"
	FilterContacts = "contact.*"
)

// Limits on endpoint fields (documented in docs/WEBHOOKS.md).
const (
	MaxURLLength         = 2048
	MaxDescriptionLength = 1024
	MaxEventFilters      = 32
	MaxRateLimit         = 10000
	MaxEndpointTimeout   = 5 * time.Minute
)

// Endpoint is one webhook endpoint of an account, as stored in the
// sms_webhooks bucket. Its JSON includes the secrets: never answer it to an
// API client as is.
type Endpoint struct {
	ID          string   `json:"id"` // "ep_" + ULID
	Account     string   `json:"account"`
	URL         string   `json:"url"`
	Events      []string `json:"events"` // exact types or "message.*", "contact.*", "*"
	Description string   `json:"description,omitempty"`
	Enabled     bool     `json:"enabled"`
	// Secrets are whsec_… signing secrets: [0] is current; during a
	// rotation [1] is the previous one, used until RotatedAt plus
	// SecretGracePeriod (see ActiveSecrets).
	Secrets   []string   `json:"secrets"`
	RotatedAt *time.Time `json:"rotated_at,omitempty"`
	// RateLimit is deliveries per second; 0 is unlimited.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// Timeout per attempt; 0 means bridge.timeout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Static endpoints are declared in the config file (SyncStatic).
	Static         bool      `json:"static,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	// FailingSince is when the current run of failed attempts began; nil
	// while deliveries succeed. The delivery side disables the endpoint
	// when it exceeds bridge.disable_after.
	FailingSince *time.Time `json:"failing_since,omitempty"`
}

// Matches reports whether the endpoint subscribes to eventType. It does not
// look at Enabled.
func (e Endpoint) Matches(eventType string) bool {
	for _, f := range e.Events {
		if epFilterMatches(f, eventType) {
			return true
		}
	}
	return false
}

func epFilterMatches(filter, eventType string) bool {
	if filter == FilterAll || filter == eventType {
		return true
	}
	if prefix, ok := strings.CutSuffix(filter, "*"); ok && strings.HasSuffix(prefix, ".") {
		return strings.HasPrefix(eventType, prefix)
	}
	return false
}

// ActiveSecrets are the secrets to sign with at now: the current one, and
// the previous one while the rotation's grace period lasts (new first, as
// the contract orders the signatures).
func (e Endpoint) ActiveSecrets(now time.Time) []string {
	if len(e.Secrets) == 0 {
		return nil
	}
	if len(e.Secrets) > 1 && e.RotatedAt != nil && now.Before(e.RotatedAt.Add(SecretGracePeriod)) {
		return slices.Clone(e.Secrets[:2])
	}
	return e.Secrets[:1:1]
}

// ValidEventFilter reports whether f may appear in Endpoint.Events: a type
// of contract section 3 (events.Types) or one of the wildcards.
func ValidEventFilter(f string) bool {
	switch f {
	case FilterAll, FilterMessages, FilterContacts:
		return true
	}
	return slices.Contains(events.Types, f)
}

// ValidateURL checks that u is an absolute http(s) URL with a host.
// Whether the host is a private address is the delivery guard's business
// (it depends on DNS at delivery time).
func ValidateURL(u string) error {
	if u == "" {
		return errors.New("is required")
	}
	if len(u) > MaxURLLength {
		return fmt.Errorf("is longer than %d characters", MaxURLLength)
	}
	p, err := url.Parse(u)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return errors.New("must be an absolute http or https URL")
	}
	if p.Host == "" || p.Hostname() == "" {
		return errors.New("must have a host")
	}
	if p.Fragment != "" {
		return errors.New("must not have a #fragment")
	}
	return nil
}

// Validate returns every problem with the endpoint's user-settable fields
// as an *EndpointValidationError, or nil.
func (e Endpoint) Validate() error {
	var errs []EndpointFieldError
	add := func(field, msg string) { errs = append(errs, EndpointFieldError{field, msg}) }
	if e.Account == "" {
		add("account", "is required")
	}
	if err := ValidateURL(e.URL); err != nil {
		add("url", err.Error())
	}
	switch {
	case len(e.Events) == 0:
		add("events", "must list at least one event type")
	case len(e.Events) > MaxEventFilters:
		add("events", fmt.Sprintf("must list at most %d event types", MaxEventFilters))
	default:
		for i, f := range e.Events {
			if !ValidEventFilter(f) {
				add(fmt.Sprintf("events[%d]", i), fmt.Sprintf("unknown event type %q; use one of %s, %q, %q or %q",
					f, strings.Join(events.Types, ", "), FilterMessages, FilterContacts, FilterAll))
			}
		}
	}
	if len(e.Description) > MaxDescriptionLength {
		add("description", fmt.Sprintf("is longer than %d bytes", MaxDescriptionLength))
	}
	if e.RateLimit < 0 || e.RateLimit > MaxRateLimit || e.RateLimit != e.RateLimit {
		add("rate_limit", fmt.Sprintf("must be between 0 (no limit) and %d per second", MaxRateLimit))
	}
	if e.Timeout < 0 || e.Timeout > MaxEndpointTimeout {
		add("timeout", fmt.Sprintf("must be between 0 (bridge default) and %s", MaxEndpointTimeout))
	}
	if len(e.Secrets) == 0 {
		add("secret", "is required")
	}
	for _, s := range e.Secrets {
		if err := ValidateSecret(s); err != nil {
			add("secret", strings.TrimPrefix(err.Error(), ErrInvalidSecret.Error()+": "))
			break
		}
	}
	if len(errs) > 0 {
		return &EndpointValidationError{Fields: errs}
	}
	return nil
}

// NewEndpointID returns a fresh "ep_" + ULID id.
func NewEndpointID() string {
	return EndpointIDPrefix + ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader).String()
}

// StaticEndpointID is the deterministic id of a config-declared endpoint,
// derived from account and URL so restarts and several instances agree on
// it. Its ULID time part is zero ("ep_0000000000…"), which tells it apart
// from API-made ids at a glance.
func StaticEndpointID(account, rawURL string) string {
	sum := sha256.Sum256([]byte(account + "\x00" + rawURL))
	var id ulid.ULID
	copy(id[6:], sum[:10])
	return EndpointIDPrefix + id.String()
}

// EndpointOp says what an EndpointChange is.
type EndpointOp int

const (
	// EndpointPut: the endpoint was created or changed (or, before
	// EndpointsSynced, exists already).
	EndpointPut EndpointOp = iota + 1
	// EndpointDeleted: the endpoint is gone; only ID is set.
	EndpointDeleted
	// EndpointsSynced: every endpoint that existed when Watch was called
	// has been sent; later changes are live.
	EndpointsSynced
)

// EndpointChange is one change seen by Watch.
type EndpointChange struct {
	Op       EndpointOp
	ID       string
	Endpoint Endpoint // zero unless Op is EndpointPut
}

// EndpointStore keeps endpoints in the sms_webhooks KV bucket, shared by
// every gateway and bridge instance.
type EndpointStore struct {
	kv  jetstream.KeyValue
	log *slog.Logger
	now func() time.Time
}

// NewEndpointStore opens (creating if needed) the sms_webhooks bucket.
func NewEndpointStore(ctx context.Context, b *bus.Bus) (*EndpointStore, error) {
	if b == nil {
		return nil, errors.New("bridge: endpoint store: nil bus")
	}
	kv, err := b.KV(ctx, jetstream.KeyValueConfig{
		Bucket:      EndpointsBucket,
		Description: "smsgw webhook endpoints (with signing secrets)",
		History:     5,
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: endpoint store: %w", err)
	}
	return &EndpointStore{kv: kv, log: slog.New(slog.DiscardHandler), now: time.Now}, nil
}

// Create stores a new endpoint. An empty ID gets a fresh one, a zero
// CreatedAt is set to now and no secret gets a fresh one. It returns the
// endpoint as stored.
func (s *EndpointStore) Create(ctx context.Context, ep Endpoint) (Endpoint, error) {
	if ep.ID == "" {
		ep.ID = NewEndpointID()
	}
	if ep.CreatedAt.IsZero() {
		ep.CreatedAt = s.now().UTC()
	}
	if len(ep.Secrets) == 0 {
		ep.Secrets = []string{NewSecret()}
	}
	if err := ep.Validate(); err != nil {
		return Endpoint{}, err
	}
	b, err := json.Marshal(ep)
	if err != nil {
		return Endpoint{}, fmt.Errorf("bridge: encode endpoint: %w", err)
	}
	if _, err := s.kv.Create(ctx, ep.ID, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Endpoint{}, fmt.Errorf("%w: %s", ErrEndpointExists, ep.ID)
		}
		return Endpoint{}, fmt.Errorf("bridge: create endpoint %s: %w", ep.ID, err)
	}
	return ep, nil
}

// Get returns the endpoint with that id, of any account.
func (s *EndpointStore) Get(ctx context.Context, id string) (Endpoint, error) {
	ep, _, err := s.get(ctx, id)
	return ep, err
}

// GetFor returns the endpoint only if it belongs to account; another
// account's endpoint is ErrEndpointNotFound.
func (s *EndpointStore) GetFor(ctx context.Context, account, id string) (Endpoint, error) {
	ep, err := s.Get(ctx, id)
	if err != nil {
		return Endpoint{}, err
	}
	if ep.Account != account {
		return Endpoint{}, fmt.Errorf("%w: %s", ErrEndpointNotFound, id)
	}
	return ep, nil
}

func (s *EndpointStore) get(ctx context.Context, id string) (Endpoint, uint64, error) {
	if !epValidKey(id) {
		return Endpoint{}, 0, fmt.Errorf("%w: %q", ErrEndpointNotFound, id)
	}
	ent, err := s.kv.Get(ctx, id)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return Endpoint{}, 0, fmt.Errorf("%w: %s", ErrEndpointNotFound, id)
		}
		return Endpoint{}, 0, fmt.Errorf("bridge: get endpoint %s: %w", id, err)
	}
	ep, err := epDecode(ent.Value())
	if err != nil {
		return Endpoint{}, 0, fmt.Errorf("bridge: endpoint %s: %w", id, err)
	}
	return ep, ent.Revision(), nil
}

// epValidKey keeps arbitrary path input (dots, wildcards, spaces) away from
// KV subjects: ids are "ep_" followed by Crockford base32.
func epValidKey(id string) bool {
	rest, ok := strings.CutPrefix(id, EndpointIDPrefix)
	if !ok || len(rest) != ulid.EncodedSize {
		return false
	}
	for _, c := range rest {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func epDecode(b []byte) (Endpoint, error) {
	var ep Endpoint
	if err := json.Unmarshal(b, &ep); err != nil {
		return Endpoint{}, fmt.Errorf("decode: %w", err)
	}
	return ep, nil
}

// Update applies fn to the stored endpoint and writes it back with
// optimistic concurrency, retrying fn on a concurrent change. fn may
// return an error to abort; the result is validated before it is stored.
// ID, Account and CreatedAt cannot be changed.
func (s *EndpointStore) Update(ctx context.Context, id string, fn func(*Endpoint) error) (Endpoint, error) {
	for attempt := 0; ; attempt++ {
		ep, rev, err := s.get(ctx, id)
		if err != nil {
			return Endpoint{}, err
		}
		next := ep
		next.Events = slices.Clone(ep.Events)
		next.Secrets = slices.Clone(ep.Secrets)
		if err := fn(&next); err != nil {
			return Endpoint{}, err
		}
		next.ID, next.Account, next.CreatedAt = ep.ID, ep.Account, ep.CreatedAt
		if err := next.Validate(); err != nil {
			return Endpoint{}, err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return Endpoint{}, fmt.Errorf("bridge: encode endpoint: %w", err)
		}
		_, err = s.kv.Update(ctx, id, b, rev)
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) || attempt >= 20 {
			return Endpoint{}, fmt.Errorf("bridge: update endpoint %s: %w", id, err)
		}
		if err := ctx.Err(); err != nil {
			return Endpoint{}, fmt.Errorf("bridge: update endpoint %s: %w", id, err)
		}
	}
}

// UpdateFor is Update for account's endpoints only: another account's
// endpoint is ErrEndpointNotFound.
func (s *EndpointStore) UpdateFor(ctx context.Context, account, id string, fn func(*Endpoint) error) (Endpoint, error) {
	return s.Update(ctx, id, func(ep *Endpoint) error {
		if ep.Account != account {
			return fmt.Errorf("%w: %s", ErrEndpointNotFound, id)
		}
		return fn(ep)
	})
}

// Delete removes the endpoint. Deleting one that does not exist is
// ErrEndpointNotFound.
func (s *EndpointStore) Delete(ctx context.Context, id string) error {
	_, rev, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, id, jetstream.LastRevision(rev)); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			// Changed meanwhile: it still exists, delete the newer revision.
			err = s.kv.Delete(ctx, id)
		}
		if err != nil {
			return fmt.Errorf("bridge: delete endpoint %s: %w", id, err)
		}
	}
	return nil
}

// List returns account's endpoints, oldest first; account "" lists every
// account's.
func (s *EndpointStore) List(ctx context.Context, account string) ([]Endpoint, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("bridge: list endpoints: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []Endpoint
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bridge: list endpoints: %w", ctx.Err())
		case ent, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("bridge: list endpoints: watcher closed")
			}
			if ent == nil {
				sort.Slice(out, func(i, j int) bool {
					if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
						return out[i].CreatedAt.Before(out[j].CreatedAt)
					}
					return out[i].ID < out[j].ID
				})
				return out, nil
			}
			ep, err := epDecode(ent.Value())
			if err != nil {
				s.log.Warn("skipping undecodable endpoint", "endpoint_id", ent.Key(), "err", err)
				continue
			}
			if account == "" || ep.Account == account {
				out = append(out, ep)
			}
		}
	}
}

// Watch sends every existing endpoint (EndpointPut), then EndpointsSynced,
// then every later change, until ctx ends; the channel is closed then.
// Every bridge instance watching sees a change as soon as it is stored.
func (s *EndpointStore) Watch(ctx context.Context) (<-chan EndpointChange, error) {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("bridge: watch endpoints: %w", err)
	}
	out := make(chan EndpointChange, 64)
	go func() {
		defer close(out)
		defer func() { _ = w.Stop() }()
		for {
			var ent jetstream.KeyValueEntry
			var ok bool
			select {
			case <-ctx.Done():
				return
			case ent, ok = <-w.Updates():
				if !ok {
					return
				}
			}
			var ch EndpointChange
			switch {
			case ent == nil:
				ch = EndpointChange{Op: EndpointsSynced}
			case ent.Operation() == jetstream.KeyValueDelete || ent.Operation() == jetstream.KeyValuePurge:
				ch = EndpointChange{Op: EndpointDeleted, ID: ent.Key()}
			default:
				ep, err := epDecode(ent.Value())
				if err != nil {
					s.log.Warn("skipping undecodable endpoint", "endpoint_id", ent.Key(), "err", err)
					continue
				}
				ch = EndpointChange{Op: EndpointPut, ID: ent.Key(), Endpoint: ep}
			}
			select {
			case out <- ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Disable turns the endpoint off with a reason (e.g. "410 Gone", "failing
// since …"). changed is false when it was already disabled. The caller
// publishes the events.EndpointDisabled event.
func (s *EndpointStore) Disable(ctx context.Context, id, reason string) (changed bool, err error) {
	_, err = s.Update(ctx, id, func(ep *Endpoint) error {
		changed = ep.Enabled
		if !ep.Enabled {
			return errEpUnchanged
		}
		ep.Enabled = false
		ep.DisabledReason = reason
		return nil
	})
	if errors.Is(err, errEpUnchanged) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return changed, nil
}

// errEpUnchanged aborts an Update that has nothing to write.
var errEpUnchanged = errors.New("bridge: endpoint unchanged")

// RotateSecret makes a fresh secret current and keeps the previous one for
// SecretGracePeriod. It returns the endpoint and the new secret.
func (s *EndpointStore) RotateSecret(ctx context.Context, account, id string) (Endpoint, string, error) {
	secret := NewSecret()
	ep, err := s.UpdateFor(ctx, account, id, func(ep *Endpoint) error {
		if ep.Static {
			return fmt.Errorf("%w: change its secret in the config file", ErrStaticEndpoint)
		}
		epRotate(ep, secret, s.now())
		return nil
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	return ep, secret, nil
}

// epRotate puts secret first and keeps the previous current one; an older
// one still in its grace period is dropped (one rotation at a time).
func epRotate(ep *Endpoint, secret string, now time.Time) {
	if len(ep.Secrets) > 0 && ep.Secrets[0] == secret {
		return
	}
	prev := ep.Secrets
	ep.Secrets = []string{secret}
	if len(prev) > 0 {
		ep.Secrets = append(ep.Secrets, prev[0])
	}
	t := now.UTC()
	ep.RotatedAt = &t
}

// SyncStatic makes the stored config-declared endpoints match whs: missing
// ones are created (enabled), changed ones updated (a new secret is a
// rotation, the old one signs for the grace period too), and static ones no
// longer declared are deleted. An endpoint disabled by the bridge stays
// disabled across restarts until an operator re-enables it (PATCH).
func (s *EndpointStore) SyncStatic(ctx context.Context, whs []config.Webhook) error {
	existing, err := s.List(ctx, "")
	if err != nil {
		return err
	}
	declared := make(map[string]bool, len(whs))
	var errs []error
	for i, wh := range whs {
		evs := slices.Clone(wh.Events)
		if len(evs) == 0 {
			evs = []string{FilterAll}
		}
		id := StaticEndpointID(wh.Account, wh.URL)
		declared[id] = true
		want := Endpoint{
			ID: id, Account: wh.Account, URL: wh.URL, Events: evs, Description: wh.Description,
			Enabled: true, Secrets: []string{wh.Secret}, RateLimit: wh.RateLimit, Timeout: wh.Timeout, Static: true,
		}
		if err := s.epSyncOne(ctx, want); err != nil {
			errs = append(errs, fmt.Errorf("webhooks[%d]: %w", i, err))
		}
	}
	for _, ep := range existing {
		if ep.Static && !declared[ep.ID] {
			if err := s.Delete(ctx, ep.ID); err != nil && !errors.Is(err, ErrEndpointNotFound) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bridge: sync static endpoints: %w", err)
	}
	return nil
}

func (s *EndpointStore) epSyncOne(ctx context.Context, want Endpoint) error {
	for range 3 {
		_, err := s.Update(ctx, want.ID, func(ep *Endpoint) error {
			before, _ := json.Marshal(ep)
			ep.URL, ep.Events, ep.Description = want.URL, want.Events, want.Description
			ep.RateLimit, ep.Timeout, ep.Static = want.RateLimit, want.Timeout, true
			epRotate(ep, want.Secrets[0], s.now())
			after, _ := json.Marshal(ep)
			if string(before) == string(after) {
				return errEpUnchanged
			}
			return nil
		})
		switch {
		case err == nil, errors.Is(err, errEpUnchanged):
			return nil
		case !errors.Is(err, ErrEndpointNotFound):
			return err
		}
		_, err = s.Create(ctx, want)
		if !errors.Is(err, ErrEndpointExists) {
			return err // nil, or a real failure
		}
		// Another instance created it meanwhile: update instead.
	}
	return fmt.Errorf("bridge: endpoint %s keeps changing", want.ID)
}
