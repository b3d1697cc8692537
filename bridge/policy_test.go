package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	timeout := &net.OpError{Op: "read", Err: context.DeadlineExceeded}
	refused := &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Err: syscall.ECONNRESET}
	tests := []struct {
		name   string
		status int
		err    error
		want   Verdict
	}{
		{"200 ok", 200, nil, Done},
		{"201 created", 201, nil, Done},
		{"204 no content", 204, nil, Done},
		{"299", 299, nil, Done},
		{"301 redirect is a failure", 301, nil, Retry},
		{"302 redirect is a failure", 302, nil, Retry},
		{"307 redirect is a failure", 307, nil, Retry},
		{"400", 400, nil, Retry},
		{"401", 401, nil, Retry},
		{"404", 404, nil, Retry},
		{"410 gone disables", 410, nil, Disable},
		{"429 throttles", 429, nil, Throttle},
		{"500", 500, nil, Retry},
		{"501", 501, nil, Retry},
		{"502 throttles", 502, nil, Throttle},
		{"503 throttles", 503, nil, Throttle},
		{"504 throttles", 504, nil, Throttle},
		{"timeout", 0, timeout, Retry},
		{"refused connection", 0, refused, Retry},
		{"reset connection", 0, reset, Retry},
		{"private target", 0, ErrPrivateTarget, Retry},
		{"1xx never final", 100, nil, Retry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.status, tt.err); got != tt.want {
				t.Errorf("Classify(%d, %v) = %s, want %s", tt.status, tt.err, got, tt.want)
			}
		})
	}
}

func TestQuickRetry(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		status int
		err    error
		want   bool
	}{
		{"2xx", ctx, 200, nil, false},
		{"3xx", ctx, 302, nil, false},
		{"4xx", ctx, 400, nil, false},
		{"410", ctx, 410, nil, false},
		{"429 waits for the schedule", ctx, 429, nil, false},
		{"500", ctx, 500, nil, true},
		{"503 waits for the schedule", ctx, 503, nil, false},
		{"refused", ctx, 0, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"timeout not repeated", ctx, 0, fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"guard not repeated", ctx, 0, fmt.Errorf("x: %w", ErrPrivateTarget), false},
		{"context done", canceled, 500, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := polQuickRetry(tt.ctx, tt.status, tt.err); got != tt.want {
				t.Errorf("polQuickRetry(%d, %v) = %v, want %v", tt.status, tt.err, got, tt.want)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	sched := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	fixed := func(v float64) func() float64 { return func() float64 { return v } }
	tests := []struct {
		name    string
		attempt int
		jitter  float64
		rnd     func() float64
		want    time.Duration
	}{
		{"first retry", 1, 0, nil, 5 * time.Second},
		{"second retry", 2, 0.2, nil, 5 * time.Minute},
		{"last retry", 3, 0, nil, 30 * time.Minute},
		{"exhausted", 4, 0, nil, -1},
		{"attempt 0 is invalid", 0, 0, nil, -1},
		{"jitter low end", 1, 0.2, fixed(0), 4 * time.Second},
		{"jitter middle", 1, 0.2, fixed(0.5), 5 * time.Second},
		{"jitter high end", 1, 0.2, fixed(1), 6 * time.Second},
		{"jitter capped at 100%", 1, 3, fixed(1), 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetryDelay(tt.attempt, sched, tt.jitter, tt.rnd); got != tt.want {
				t.Errorf("RetryDelay(%d) = %s, want %s", tt.attempt, got, tt.want)
			}
		})
	}
	// Every jittered delay stays within ±20 %.
	for i := range 1000 {
		d := RetryDelay(2, sched, 0.2, func() float64 { return float64(i) / 1000 })
		if d < 4*time.Minute || d > 6*time.Minute {
			t.Fatalf("jittered delay %s outside ±20%% of 5m", d)
		}
	}
}

func TestClampRetryAfter(t *testing.T) {
	tests := []struct {
		name                  string
		retryAfter, scheduled time.Duration
		want                  time.Duration
	}{
		{"no header", 0, 5 * time.Second, 5 * time.Second},
		{"shorter than scheduled", time.Second, 5 * time.Second, 5 * time.Second},
		{"between", 7 * time.Second, 5 * time.Second, 7 * time.Second},
		{"exactly twice", 10 * time.Second, 5 * time.Second, 10 * time.Second},
		{"longer than twice", time.Hour, 5 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClampRetryAfter(tt.retryAfter, tt.scheduled); got != tt.want {
				t.Errorf("ClampRetryAfter(%s, %s) = %s, want %s", tt.retryAfter, tt.scheduled, got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999999999999", 0},
		{"9223372036854775807", time.Duration(1<<63 - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ParseRetryAfter(tt.in, now); got != tt.want {
				t.Errorf("ParseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "5", "Sun, 06 Nov 1994 08:49:37 GMT", "-1", "1e9"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseRetryAfter(s, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s < 0", s, d)
		}
		c := ClampRetryAfter(d, 5*time.Second)
		if c < 5*time.Second || c > 10*time.Second {
			t.Fatalf("clamped %s outside [5s, 10s]", c)
		}
	})
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Done: "done", Retry: "retry", Throttle: "throttle", Disable: "disable", 9: "verdict(9)"} {
		if v.String() != want {
			t.Errorf("%d: %q, want %q", int(v), v.String(), want)
		}
	}
	if !errors.Is(&StallError{EndpointID: "x"}, ErrStalled) {
		t.Error("StallError does not match ErrStalled")
	}
}
