package bridge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-retryablehttp"
)

// Limits on what is read from a webhook response.
const (
	// ExcerptBytes is the most of a response body kept per attempt.
	ExcerptBytes = 1 << 10
	// dlvDrainBytes is how much more is read so the keep-alive connection
	// can be reused; a longer body is cut off and its connection dropped.
	dlvDrainBytes = 64 << 10
)

// dlvTry is what one HTTP request of a delivery produced.
type dlvTry struct {
	status     int
	err        error
	excerpt    string
	retryAfter string
	latency    time.Duration
	at         time.Time
}

// dlvSend is the state of one delivery (one scheduled attempt and its quick
// retries). It rides in the request context so retryablehttp's hooks, which
// only see the *http.Request, can reach it.
type dlvSend struct {
	id      string
	body    []byte
	signer  *Signer
	timeout time.Duration
	now     func() time.Time
	onTry   func(dlvTry, bool)
	last    dlvTry
	// quickLeft is how many quick retries remain (retryablehttp's
	// RetryMax), so onTry knows whether another try follows.
	quickLeft int
}

type dlvSendKey struct{}

func dlvSendFrom(ctx context.Context) *dlvSend {
	s, _ := ctx.Value(dlvSendKey{}).(*dlvSend)
	return s
}

// dlvTransport bounds each request by the endpoint's timeout, covering the
// body read too, and keeps what the bridge needs of the response: status,
// Retry-After and a short excerpt. It deliberately does not implement
// CloseIdleConnections: retryablehttp calls that whenever it gives up, which
// would drop the keep-alive connections of every other endpoint.
type dlvTransport struct {
	base http.RoundTripper
}

func (t dlvTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := dlvSendFrom(req.Context())
	if st == nil {
		return t.base.RoundTrip(req)
	}
	start := st.now()
	ctx, cancel := context.WithTimeout(req.Context(), st.timeout)
	defer cancel()
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	try := dlvTry{at: start}
	if err != nil {
		try.err = err
		try.latency = st.now().Sub(start)
		st.last = try
		return nil, err
	}
	excerpt, rerr := dlvReadBody(resp.Body)
	try.latency = st.now().Sub(start)
	try.status = resp.StatusCode
	try.excerpt = excerpt
	try.retryAfter = resp.Header.Get("Retry-After")
	if rerr != nil && isTimeout(rerr) {
		// The answer did not finish within the timeout: not "2xx within
		// the endpoint's timeout", so it counts as a timeout.
		try.status, try.err = 0, rerr
		st.last = try
		return nil, rerr
	}
	st.last = try
	resp.Body = io.NopCloser(strings.NewReader(excerpt))
	return resp, nil
}

// dlvReadBody keeps an excerpt of at most ExcerptBytes (valid UTF-8) and
// drains up to dlvDrainBytes more so the connection can be reused.
func dlvReadBody(body io.ReadCloser) (string, error) {
	defer body.Close()
	var buf bytes.Buffer
	_, err := io.Copy(&buf, io.LimitReader(body, ExcerptBytes))
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(body, dlvDrainBytes))
	}
	b := buf.Bytes()
	for len(b) > 0 && !utf8.Valid(b) {
		// Cut a multi-byte character split by the cap.
		b = b[:len(b)-1]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), err
}

// isTimeout reports whether err is a deadline or network timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// RedactURL strips userinfo, query and fragment from a URL so it can be
// logged or put in an error.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable url]"
	}
	u.User = nil
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "", false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// dlvRedactErr rewrites the URL inside net/http's *url.Error, keeping the
// error chain for errors.Is/As.
func dlvRedactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	}
	return err
}

// newTransport is the keep-alive transport of the delivery client: every
// connection is kept for reuse (the deliveries in flight bound how many
// there are: bridge.max_in_flight_per_endpoint per endpoint; a cap below
// that closed and re-dialled connections under load, e.g. 4,096 for 100
// endpoints × 64), no proxy (a proxy would hide the real target from the
// guard), and the private-target guard on every dial unless allowPrivate.
// dials counts the connections opened.
func newTransport(allowPrivate bool, dials *atomic.Int64) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0,       // no total cap
		MaxIdleConnsPerHost:   1 << 16, // nor per host (several endpoints may share one)
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // the per-attempt context bounds it
	}
}

// newRetryClient builds the retryablehttp client used for the quick
// in-process retries of one scheduled attempt. Its defaults are replaced
// where they disagree with the contract: redirects are not followed,
// Retry-After is not honoured here (the schedule in JetStream does, clamped),
// the policy is polQuickRetry, every try is re-signed with a fresh
// timestamp, and the last response is returned instead of an error.
func newRetryClient(base http.RoundTripper, quickRetries int, waitMin, waitMax time.Duration) *retryablehttp.Client {
	hc := &http.Client{
		Transport: dlvTransport{base: base},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       nil, // one summary line per attempt is logged by the bridge
		RetryWaitMin: waitMin,
		RetryWaitMax: waitMax,
		RetryMax:     quickRetries,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			st := dlvSendFrom(ctx)
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			retry := polQuickRetry(ctx, status, err)
			if st != nil {
				more := retry && st.quickLeft > 0
				if more {
					st.quickLeft--
				}
				if st.onTry != nil {
					st.onTry(st.last, more)
				}
				retry = more
			}
			return retry, nil
		},
		Backoff: func(lo, hi time.Duration, n int, _ *http.Response) time.Duration {
			d := lo << n
			if d > hi || d <= 0 {
				d = hi
			}
			return d
		},
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		PrepareRetry: func(req *http.Request) error {
			st := dlvSendFrom(req.Context())
			if st == nil {
				return nil
			}
			st.last = dlvTry{}
			// retryablehttp's shallow copy shares the header map with the
			// previous try, which the transport may still be reading.
			req.Header = req.Header.Clone()
			st.signer.Sign(req.Header, st.id, st.now(), st.body)
			return nil
		},
	}
}
