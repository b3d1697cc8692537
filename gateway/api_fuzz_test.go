package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/smsgw/smsgw/httpapi"
)

// FuzzSubmit throws arbitrary bodies at POST /v1/messages: the answer must
// always be 202 with a well-formed resource or a 4xx problem+json, never a
// 500 or a panic.
func FuzzSubmit(f *testing.F) {
	for _, s := range []string{
		`{"to":"+447700900123","text":"hi"}`,
		`{"to":"+447700900123","text":"héllo €","encoding":"gsm7","metadata":{"a":"b"}}`,
		`{"to":"07700900123","text":""}`,
		`{"to":"+447700900123","text":"x","validity":"90m","route":"carrier-a","callback_url":"https://a.example/"}`,
		`[]`, `{`, `null`, `{"to":null}`, "{\"text\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	e := newAPITestEnv(f)
	h := e.api.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/messages", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+apiTestKeyAcme)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusAccepted:
			var m MessageResource
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m.ID == "" || !strings.HasPrefix(m.To, "+") || m.Parts < 1 {
				t.Fatalf("202 with bad resource %q (%v)", w.Body, err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			if w.Header().Get("Content-Type") != httpapi.ContentTypeProblem {
				t.Fatalf("%d without problem+json", w.Code)
			}
			var p httpapi.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Title == "" {
				t.Fatalf("bad problem %q (%v)", w.Body, err)
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}
