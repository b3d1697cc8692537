package httpapi

import (
	"net/http"
	"strings"
)

// ProblemErrors rewrites the plain-text 404 and 405 answers of
// http.ServeMux (unknown route, wrong method) into problem+json, so every
// error a client sees has the same shape. Answers already written as
// problems or JSON pass through untouched.
func ProblemErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&problemWriter{ResponseWriter: w}, r)
	})
}

type problemWriter struct {
	http.ResponseWriter
	swallow bool // the mux's text body is being replaced
	wrote   bool
}

func (p *problemWriter) WriteHeader(code int) {
	if p.wrote {
		return
	}
	p.wrote = true
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(p.Header().Get("Content-Type"), "text/plain") {
		p.swallow = true
		p.Header().Del("Content-Length")
		detail := "no such route"
		if code == http.StatusMethodNotAllowed {
			detail = "method not allowed on this route"
		}
		WriteProblem(p.ResponseWriter, NewProblem(code, detail))
		return
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *problemWriter) Write(b []byte) (int, error) {
	if !p.wrote {
		p.WriteHeader(http.StatusOK)
	}
	if p.swallow {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (p *problemWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
