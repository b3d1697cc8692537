package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. A *Problem matches the one for its status with
// errors.Is, so callers need not compare status codes.
var (
	// ErrConfig is returned by New for an unusable Config.
	ErrConfig = errors.New("client: invalid config")
	// ErrUnauthorized: the API key is missing or unknown (401).
	ErrUnauthorized = errors.New("client: unauthorized")
	// ErrNotFound: no such resource for this account (404).
	ErrNotFound = errors.New("client: not found")
	// ErrInvalid: the request was refused as invalid (400, 413, 422).
	ErrInvalid = errors.New("client: invalid request")
	// ErrUnavailable: the server is overloaded or its store is down (429,
	// 503); retrying later may succeed.
	ErrUnavailable = errors.New("client: service unavailable")
	// ErrUnexpected: the server answered something the contract does not
	// describe (e.g. a 2xx with a body that does not decode).
	ErrUnexpected = errors.New("client: unexpected response")
)

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem answer. It is the error type of every
// non-2xx answer.
type Problem struct {
	Type   string       `json:"type,omitempty"`
	Title  string       `json:"title,omitempty"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// Error implements error: "422 Unprocessable Entity: detail (to: message; …)".
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", p.Status)
	title := p.Title
	if title == "" {
		title = http.StatusText(p.Status)
	}
	if title != "" {
		b.WriteString(" " + title)
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	if len(p.Errors) > 0 {
		b.WriteString(" (")
		for i, fe := range p.Errors {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(fe.Field + ": " + fe.Message)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Is matches the sentinel for the problem's status.
func (p *Problem) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return p.Status == http.StatusUnauthorized
	case ErrNotFound:
		return p.Status == http.StatusNotFound
	case ErrInvalid:
		return p.Status == http.StatusBadRequest || p.Status == http.StatusRequestEntityTooLarge ||
			p.Status == http.StatusUnprocessableEntity
	case ErrUnavailable:
		return p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable
	}
	return false
}

// Reason is a short, stable description of why the request was refused,
// for counting refusals: the first field error ("to: must be E.164 …")
// when there is one, else the detail, else the title.
func (p *Problem) Reason() string {
	switch {
	case len(p.Errors) > 0:
		return p.Errors[0].Field + ": " + p.Errors[0].Message
	case p.Detail != "":
		return p.Detail
	case p.Title != "":
		return p.Title
	}
	return http.StatusText(p.Status)
}

// TransportError is a request that got no HTTP answer: the connection was
// refused or reset, the context ended, the URL was unusable.
type TransportError struct {
	Method, Path string
	Err          error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("client: %s %s: %v", e.Method, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }
