package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/smsgw/smsgw/events"
)

// Defaults of DelivererConfig.
const (
	DefaultTimeout        = 15 * time.Second
	DefaultQuickRetries   = 2
	DefaultQuickRetryWait = 500 * time.Millisecond
)

// DelivererConfig configures a Deliverer.
type DelivererConfig struct {
	// AllowPrivateTargets turns the private-target guard off
	// (bridge.allow_private_targets).
	AllowPrivateTargets bool
	// Timeout is the per-attempt timeout of endpoints without their own
	// (bridge.timeout). 0 means DefaultTimeout.
	Timeout time.Duration
	// QuickRetries is how many times a refused/reset connection or a
	// non-throttle 5xx is retried at once, inside one scheduled attempt.
	// 0 means DefaultQuickRetries; negative means none (tests that count
	// attempts exactly).
	QuickRetries int
	// QuickRetryWait is the wait before the first quick retry; it doubles
	// for each further one. 0 means DefaultQuickRetryWait.
	QuickRetryWait time.Duration
	// Version goes into the User-Agent: "smsgw/<version>".
	Version string
	// HTTPClient, when set, supplies the transport (tests); redirects are
	// still never followed. Without it the bridge's own keep-alive
	// transport with the private-target guard is used.
	HTTPClient *http.Client
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// AttemptResult is the outcome of one signed attempt.
type AttemptResult struct {
	// Status is the HTTP status, 0 when no answer was read.
	Status int
	// Latency is from sending the request to reading the answer.
	Latency time.Duration
	// ResponseExcerpt is the start of the response body, at most
	// ExcerptBytes.
	ResponseExcerpt string
	// Err describes a transport failure (URL redacted); "" when an answer
	// was read.
	Err string
	// Verdict is what the answer means for the delivery.
	Verdict Verdict
	// RetryAfter is the parsed Retry-After of the answer, 0 when absent.
	RetryAfter time.Duration
}

// Deliverer makes signed webhook requests. It is safe for concurrent use.
type Deliverer struct {
	cfg       DelivererConfig
	log       *slog.Logger
	now       func() time.Time
	ua        string
	transport http.RoundTripper
	quick     *retryablehttp.Client // with quick retries
	single    *retryablehttp.Client // one try only (the test route)

	mu      sync.Mutex
	signers map[string]*Signer // by joined secrets: decoding once per endpoint
	dials   atomic.Int64       // connections opened by the bridge's transport
}

// Dials is how many connections the Deliverer's own transport has opened.
func (d *Deliverer) Dials() int64 { return d.dials.Load() }

// NewDeliverer builds a Deliverer.
func NewDeliverer(cfg DelivererConfig) *Deliverer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.QuickRetries == 0:
		cfg.QuickRetries = DefaultQuickRetries
	case cfg.QuickRetries < 0:
		cfg.QuickRetries = 0
	}
	if cfg.QuickRetryWait <= 0 {
		cfg.QuickRetryWait = DefaultQuickRetryWait
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	d := &Deliverer{
		cfg:     cfg,
		log:     cfg.Logger,
		now:     cfg.Now,
		ua:      "smsgw/" + cfg.Version,
		signers: map[string]*Signer{},
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		d.transport = cfg.HTTPClient.Transport
	} else {
		d.transport = newTransport(cfg.AllowPrivateTargets, &d.dials)
	}
	d.quick = newRetryClient(d.transport, cfg.QuickRetries, cfg.QuickRetryWait, 8*cfg.QuickRetryWait)
	d.single = newRetryClient(d.transport, 0, cfg.QuickRetryWait, cfg.QuickRetryWait)
	return d
}

// Close drops idle keep-alive connections.
func (d *Deliverer) Close() {
	if t, ok := d.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// signer returns the cached Signer for a secret list (newest first).
func (d *Deliverer) signer(secrets []string) (*Signer, error) {
	var key string
	if len(secrets) == 1 {
		key = secrets[0]
	} else {
		key = strings.Join(secrets, " ")
	}
	d.mu.Lock()
	s, ok := d.signers[key]
	d.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := NewSigner(secrets...)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if len(d.signers) > 10000 {
		// Rotations leave old keys behind; a rebuild now and then is
		// cheaper than tracking them.
		clear(d.signers)
	}
	d.signers[key] = s
	d.mu.Unlock()
	return s, nil
}

// dlvTarget is where and how one delivery is sent.
type dlvTarget struct {
	url     string
	secrets []string
	timeout time.Duration
}

// send POSTs body to t, signed for event id, with the quick retries when
// quick is set. onTry (optional) sees every try and whether another follows.
// It returns the last try.
func (d *Deliverer) send(ctx context.Context, t dlvTarget, id string, body []byte, quick bool, onTry func(dlvTry, bool)) dlvTry {
	signer, err := d.signer(t.secrets)
	if err != nil {
		try := dlvTry{err: err, at: d.now()}
		if onTry != nil {
			onTry(try, false)
		}
		return try
	}
	timeout := t.timeout
	if timeout <= 0 {
		timeout = d.cfg.Timeout
	}
	st := &dlvSend{id: id, body: body, signer: signer, timeout: timeout, now: d.now, onTry: onTry}
	ctx = context.WithValue(ctx, dlvSendKey{}, st)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, t.url, body)
	if err != nil {
		try := dlvTry{err: dlvRedactErr(fmt.Errorf("bridge: request for %s: %w", RedactURL(t.url), err)), at: d.now()}
		if onTry != nil {
			onTry(try, false)
		}
		return try
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.ua)
	signer.Sign(req.Header, id, d.now(), body)
	c := d.single
	if quick {
		c = d.quick
		st.quickLeft = c.RetryMax
	}
	resp, err := c.Do(req)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close() // already read by dlvTransport
	}
	last := st.last
	if last.at.IsZero() {
		// The request never reached the transport (e.g. ctx done).
		last.at = d.now()
	}
	if last.err == nil && last.status == 0 && err != nil {
		last.err = err
	}
	last.err = dlvRedactErr(last.err)
	return last
}

// result turns a try into an AttemptResult.
func (d *Deliverer) result(try dlvTry) AttemptResult {
	r := AttemptResult{
		Status:          try.status,
		Latency:         try.latency,
		ResponseExcerpt: try.excerpt,
		Verdict:         Classify(try.status, try.err),
		RetryAfter:      ParseRetryAfter(try.retryAfter, d.now()),
	}
	if try.status == 0 {
		err := try.err
		if err == nil {
			err = errors.New("bridge: no answer")
		}
		r.Err = dlvRedactErr(err).Error()
	}
	return r
}

// Attempt sends e to ep once, now, signed, with no retries of any kind: the
// test route's "send a webhook.test and tell me what happened".
func (d *Deliverer) Attempt(ctx context.Context, ep Endpoint, e events.Event) AttemptResult {
	body, err := e.WebhookBody()
	if err != nil {
		return AttemptResult{Err: fmt.Sprintf("bridge: encode event: %v", err), Verdict: Retry}
	}
	try := d.send(ctx, dlvTarget{url: ep.URL, secrets: ep.ActiveSecrets(d.now()), timeout: ep.Timeout}, e.ID, body, false, nil)
	return d.result(try)
}
