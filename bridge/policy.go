package bridge

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Verdict is what the bridge does after one delivery attempt (contract
// section 3, "answer | the bridge").
type Verdict int

// Verdicts of Classify.
const (
	// Done: a 2xx answer; the delivery is complete.
	Done Verdict = iota
	// Retry: any other failure (3xx, 4xx but 410/429, 5xx but 502-504, a
	// timeout, a refused or reset connection); retried on the schedule.
	Retry
	// Throttle: 429, 502, 503, 504; the endpoint is paused, then the event
	// is retried no sooner than Retry-After (clamped, see ClampRetryAfter).
	Throttle
	// Disable: 410 Gone; the endpoint is disabled.
	Disable
)

func (v Verdict) String() string {
	switch v {
	case Done:
		return "done"
	case Retry:
		return "retry"
	case Throttle:
		return "throttle"
	case Disable:
		return "disable"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Classify maps an attempt's outcome to a verdict. status is the HTTP status
// (0 when no response was read); err is the transport error, if any. A
// response wins over an error, so a status read before a body error still
// counts. 3xx is a failure: redirects are never followed.
func Classify(status int, err error) Verdict {
	switch {
	case status >= 200 && status < 300:
		return Done
	case status == http.StatusGone:
		return Disable
	case status == http.StatusTooManyRequests, status == http.StatusBadGateway,
		status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return Throttle
	}
	return Retry
}

// RetryDelay is the wait before the next attempt after attempt number
// attempt (1-based) failed: schedule[attempt-1] with ±jitter applied (jitter
// 0.2 means ±20 %). rnd returns a uniform value in [0, 1); nil means no
// jitter. It returns -1 when the schedule is exhausted (dead letter).
func RetryDelay(attempt int, schedule []time.Duration, jitter float64, rnd func() float64) time.Duration {
	if attempt < 1 || attempt > len(schedule) {
		return -1
	}
	d := schedule[attempt-1]
	if jitter <= 0 || rnd == nil {
		return d
	}
	jitter = math.Min(jitter, 1)
	f := 1 + jitter*(2*rnd()-1)
	return time.Duration(float64(d) * f)
}

// ClampRetryAfter honours a Retry-After of retryAfter, clamped between the
// scheduled delay and twice it (contract section 3). retryAfter <= 0 (no
// header) gives the scheduled delay.
func ClampRetryAfter(retryAfter, scheduled time.Duration) time.Duration {
	switch {
	case retryAfter <= scheduled:
		return scheduled
	case retryAfter > 2*scheduled:
		return 2 * scheduled
	}
	return retryAfter
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (relative to now). It returns 0 when the value is absent or unusable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// polQuickRetry reports whether an attempt is worth repeating at once,
// within the same scheduled attempt: a refused or reset connection, or a 5xx
// that is not a throttle. Timeouts are not repeated (the endpoint is slow;
// hitting it again now adds load), nor are throttles (it asked us to wait).
func polQuickRetry(ctx context.Context, status int, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if status != 0 {
		return status >= 500 && Classify(status, nil) == Retry
	}
	if err == nil || isTimeout(err) || errors.Is(err, ErrPrivateTarget) {
		return false
	}
	return true
}
