package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smsgw/smsgw/events"
)

// Config configures New.
type Config struct {
	// BaseURL is the API's root, e.g. "http://127.0.0.1:8080". Required;
	// http or https.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>". Required for every
	// /v1/ route (Ready works without it).
	APIKey string
	// HTTPClient sends the requests; nil uses a client with a keep-alive
	// transport sized for concurrent use and Timeout.
	HTTPClient *http.Client
	// Timeout bounds each request when HTTPClient is nil. Default 30s.
	Timeout time.Duration
	// UserAgent is sent with every request. Default "smsgw-client".
	UserAgent string
}

// Client talks to one smsgw HTTP API with one API key. It is safe for
// concurrent use.
type Client struct {
	base *url.URL
	key  string
	hc   *http.Client
	ua   string
}

// maxErrorBody caps how much of a non-problem error body is kept.
const maxErrorBody = 512

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, fmt.Errorf("%w: BaseURL is required", ErrConfig)
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("%w: BaseURL: %w", ErrConfig, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: BaseURL %q: want http(s)://host[:port]", ErrConfig, cfg.BaseURL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "smsgw-client"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Bulk senders run many requests at once against one host; the
		// default of 2 idle connections per host would churn connections.
		tr.MaxIdleConnsPerHost = 256
		hc = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	return &Client{base: u, key: cfg.APIKey, hc: hc, ua: cfg.UserAgent}, nil
}

// SubmitRequest is the submit body (contract section 2). Empty fields are
// left out, so the server applies its defaults.
type SubmitRequest struct {
	To          string            `json:"to"`
	From        string            `json:"from,omitempty"`
	Text        string            `json:"text"`
	CallbackURL string            `json:"callback_url,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Encoding    string            `json:"encoding,omitempty"`
	Validity    string            `json:"validity,omitempty"`
	Route       string            `json:"route,omitempty"`
}

// Message is the message resource; Events is filled by GetMessage only.
type Message struct {
	ID        string            `json:"id"`
	Status    string            `json:"status"`
	To        string            `json:"to"`
	From      string            `json:"from"`
	Parts     int               `json:"parts"`
	Encoding  string            `json:"encoding"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt time.Time         `json:"created_at"`
	Events    []events.Event    `json:"events,omitempty"`
}

// BatchResult is one item of a batch answer: Status 202 with Message, or
// an error status with Problem.
type BatchResult struct {
	Status  int      `json:"status"`
	Message *Message `json:"message,omitempty"`
	Problem *Problem `json:"error,omitempty"`
}

// MaxBatch is the most messages the batch route takes in one request.
const MaxBatch = 1000

// Submit sends one message. idempotencyKey, when not empty, is sent as the
// Idempotency-Key header so a retry returns the first answer.
func (c *Client) Submit(ctx context.Context, req SubmitRequest, idempotencyKey string) (*Message, error) {
	var m Message
	hdr := http.Header{}
	if idempotencyKey != "" {
		hdr.Set("Idempotency-Key", idempotencyKey)
	}
	if err := c.do(ctx, http.MethodPost, "/v1/messages", hdr, req, http.StatusAccepted, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// SubmitBatch sends 1 to MaxBatch messages in one request. The results are
// in the order given; a refused item does not refuse the others, so err is
// only set when the whole request failed.
func (c *Client) SubmitBatch(ctx context.Context, reqs []SubmitRequest, idempotencyKey string) ([]BatchResult, error) {
	if len(reqs) == 0 || len(reqs) > MaxBatch {
		return nil, &Problem{Status: http.StatusBadRequest, Detail: fmt.Sprintf("a batch has 1 to %d messages, not %d", MaxBatch, len(reqs))}
	}
	hdr := http.Header{}
	if idempotencyKey != "" {
		hdr.Set("Idempotency-Key", idempotencyKey)
	}
	var ans struct {
		Results []BatchResult `json:"results"`
	}
	body := struct {
		Messages []SubmitRequest `json:"messages"`
	}{reqs}
	if err := c.do(ctx, http.MethodPost, "/v1/messages/batch", hdr, body, http.StatusMultiStatus, &ans); err != nil {
		return nil, err
	}
	if len(ans.Results) != len(reqs) {
		return nil, fmt.Errorf("%w: batch of %d answered with %d results", ErrUnexpected, len(reqs), len(ans.Results))
	}
	return ans.Results, nil
}

// GetMessage returns the message with its event history.
func (c *Client) GetMessage(ctx context.Context, id string) (*Message, error) {
	var m Message
	if err := c.do(ctx, http.MethodGet, "/v1/messages/"+url.PathEscape(id), nil, nil, http.StatusOK, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// WebhookRequest creates a webhook endpoint (POST /v1/webhooks).
type WebhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description,omitempty"`
	// Secret is an optional "whsec_…" secret; empty lets the server make one.
	Secret    string  `json:"secret,omitempty"`
	RateLimit float64 `json:"rate_limit,omitempty"`
}

// Webhook is the endpoint resource. Secret is set only in the answer to
// CreateWebhook.
type Webhook struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	CreatedAt   time.Time `json:"created_at"`
	Secret      string    `json:"secret,omitempty"`
	RateLimit   float64   `json:"rate_limit,omitempty"`
}

// CreateWebhook registers an endpoint for the account.
func (c *Client) CreateWebhook(ctx context.Context, req WebhookRequest) (*Webhook, error) {
	var w Webhook
	if err := c.do(ctx, http.MethodPost, "/v1/webhooks", nil, req, http.StatusCreated, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// GetWebhook returns one endpoint of the account.
func (c *Client) GetWebhook(ctx context.Context, id string) (*Webhook, error) {
	var w Webhook
	if err := c.do(ctx, http.MethodGet, "/v1/webhooks/"+url.PathEscape(id), nil, nil, http.StatusOK, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// ListWebhooks returns the account's endpoints.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var ans struct {
		Webhooks []Webhook `json:"webhooks"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/webhooks", nil, nil, http.StatusOK, &ans); err != nil {
		return nil, err
	}
	return ans.Webhooks, nil
}

// DeleteWebhook removes an endpoint; deleting one that is gone is
// ErrNotFound.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/webhooks/"+url.PathEscape(id), nil, nil, 0, nil)
}

// Ready asks GET /readyz; nil means the server is ready to take messages.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", nil, nil, http.StatusOK, nil)
}

// do sends one request and decodes a want-status answer into out (want 0:
// any 2xx, body ignored). Any other answer is returned as a *Problem.
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return &TransportError{Method: method, Path: path, Err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &TransportError{Method: method, Path: path, Err: err}
	}
	defer func() {
		// Drain so the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	ok := resp.StatusCode == want || (want == 0 && resp.StatusCode/100 == 2)
	if !ok {
		return readProblem(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%w: %s %s: status %d: decode: %w", ErrUnexpected, method, path, resp.StatusCode, err)
	}
	return nil
}

// readProblem turns a non-expected answer into a *Problem: the body when it
// is problem+json (or JSON with a status), else one built from the status
// and an excerpt of the body.
func readProblem(resp *http.Response) *Problem {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "application/problem+json" || ct == "application/json" {
		var p Problem
		if err := json.Unmarshal(raw, &p); err == nil && (p.Status != 0 || p.Title != "" || p.Detail != "") {
			// The HTTP status is the truth when the body disagrees.
			p.Status = resp.StatusCode
			return &p
		}
	}
	detail := strings.TrimSpace(string(raw))
	if len(detail) > maxErrorBody {
		detail = detail[:maxErrorBody] + "…"
	}
	return &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: detail}
}
