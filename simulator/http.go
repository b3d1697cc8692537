package simulator

import (
	"encoding/json"
	"errors"
	"net/http"
)

// maxMOBody caps a POST /mo body.
const maxMOBody = 64 << 10

// Handler returns the control API: POST /mo, GET /stats, GET /messages.
// Start serves it on Config.HTTPAddr; tests may mount it on httptest.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mo", s.handleMO)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, _ *http.Request) {
		msgs := s.Messages()
		if msgs == nil {
			msgs = []Submitted{}
		}
		writeJSON(w, http.StatusOK, msgs)
	})
	return mux
}

func (s *Server) handleMO(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxMOBody))
	dec.DisallowUnknownFields()
	var mo MO
	if err := dec.Decode(&mo); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "Body too large", err.Error())
			return
		}
		writeProblem(w, http.StatusBadRequest, "Invalid JSON", err.Error())
		return
	}
	if dec.More() {
		writeProblem(w, http.StatusBadRequest, "Invalid JSON", "trailing data after the JSON object")
		return
	}
	parts, err := s.injectMO(r.Context(), mo)
	switch {
	case err == nil:
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "parts": parts})
	case errors.Is(err, ErrInvalidMO), errors.Is(err, ErrMOTooLong):
		writeProblem(w, http.StatusBadRequest, "Invalid message", err.Error())
	case errors.Is(err, ErrNoReceiver), errors.Is(err, ErrClosed):
		writeProblem(w, http.StatusServiceUnavailable, "No receiver bound", err.Error())
	default:
		writeProblem(w, http.StatusInternalServerError, "Inject failed", err.Error())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}

// writeProblem answers an RFC 9457 problem, like the gateway's API.
func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "about:blank",
		"title":  title,
		"status": status,
		"detail": detail,
	})
}
