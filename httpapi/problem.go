package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ContentTypeProblem is the media type of every error answer (RFC 9457).
const ContentTypeProblem = "application/problem+json"

// ProblemBase prefixes the stable problem type URIs.
const ProblemBase = "https://smsgw.dev/problems/"

// Problem type URIs. They are stable: clients may branch on them.
const (
	TypeValidation   = ProblemBase + "validation"
	TypeUnauthorized = ProblemBase + "unauthorized"
	TypeNotFound     = ProblemBase + "not-found"
	TypeTooLarge     = ProblemBase + "body-too-large"
	TypeOptedOut     = ProblemBase + "opted-out"
	TypeUnavailable  = ProblemBase + "unavailable"
	TypeConflict     = ProblemBase + "conflict"
	TypeRateLimited  = ProblemBase + "rate-limited"
	TypeInternal     = ProblemBase + "internal"
	TypeUnsupported  = ProblemBase + "unsupported-media-type"
	TypeMethod       = ProblemBase + "method-not-allowed"
)

// FieldError names one invalid field of a request body. Field is a JSON
// path as the client wrote it ("to", "messages[3].text", "metadata.x").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details object. It implements error so
// handlers can return it through ordinary error paths.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// Error implements error.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Title)
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	for _, fe := range p.Errors {
		b.WriteString("; ")
		b.WriteString(fe.Field)
		b.WriteString(": ")
		b.WriteString(fe.Message)
	}
	return b.String()
}

// typeByStatus maps the statuses smsgw answers to their stable type URI;
// any other status gets "about:blank", as RFC 9457 suggests.
var typeByStatus = map[int]string{
	http.StatusBadRequest:            TypeValidation,
	http.StatusUnauthorized:          TypeUnauthorized,
	http.StatusNotFound:              TypeNotFound,
	http.StatusMethodNotAllowed:      TypeMethod,
	http.StatusConflict:              TypeConflict,
	http.StatusRequestEntityTooLarge: TypeTooLarge,
	http.StatusUnsupportedMediaType:  TypeUnsupported,
	http.StatusUnprocessableEntity:   TypeOptedOut,
	http.StatusTooManyRequests:       TypeRateLimited,
	http.StatusInternalServerError:   TypeInternal,
	http.StatusServiceUnavailable:    TypeUnavailable,
}

// NewProblem builds a problem for status with a human detail and optional
// field errors. Type is the stable URI for the status (see the Type
// constants) or "about:blank"; Title is http.StatusText(status).
// Callers with a more specific type set p.Type afterwards.
func NewProblem(status int, detail string, errs ...FieldError) *Problem {
	typ, ok := typeByStatus[status]
	if !ok {
		typ = "about:blank"
	}
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	return &Problem{Type: typ, Title: title, Status: status, Detail: detail, Errors: errs}
}

// WriteJSON answers status with v encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error reaches here (an unmarshalable type);
		// answer a problem rather than a half-written body.
		WriteProblem(w, NewProblem(http.StatusInternalServerError, "could not encode the response"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteProblem answers p as application/problem+json with p.Status.
func WriteProblem(w http.ResponseWriter, p *Problem) {
	if p == nil {
		p = NewProblem(http.StatusInternalServerError, "")
	}
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	b, err := json.Marshal(p)
	if err != nil { // a Problem is plain strings and ints; cannot fail
		b = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
	}
	h := w.Header()
	h.Set("Content-Type", ContentTypeProblem)
	h.Set("X-Content-Type-Options", "nosniff")
	if p.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Bearer realm="smsgw"`)
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

// NotFound answers a 404 problem. It is also the answer for another
// account's ids, so their existence never leaks (never a 403).
func NotFound(w http.ResponseWriter) {
	WriteProblem(w, NewProblem(http.StatusNotFound, "no such resource"))
}

// MethodNotAllowed answers a 405 problem with the Allow header set.
func MethodNotAllowed(w http.ResponseWriter, allow ...string) {
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	WriteProblem(w, NewProblem(http.StatusMethodNotAllowed, "method not allowed on this route"))
}
