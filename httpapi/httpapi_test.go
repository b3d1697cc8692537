package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type decodeTarget struct {
	To   string            `json:"to"`
	N    int               `json:"n"`
	Meta map[string]string `json:"meta"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		limit     int64
		status    int
		field     string
		detailHas string
	}{
		{name: "ok", body: `{"to":"x","n":1}`},
		{name: "ok with whitespace after", body: "{\"to\":\"x\"}\n\n"},
		{name: "empty", body: ``, status: 400, detailHas: "empty"},
		{name: "blank", body: "  \n", status: 400, detailHas: "empty"},
		{name: "unknown field", body: `{"to":"x","bogus":1}`, status: 400, field: "bogus"},
		{name: "syntax", body: `{"to":"x",}`, status: 400, detailHas: "offset 11"},
		{name: "truncated", body: `{"to":"x"`, status: 400, detailHas: "end of input"},
		{name: "wrong type", body: `{"n":"one"}`, status: 400, field: "n"},
		{name: "nested wrong type", body: `{"meta":{"a":1}}`, status: 400, field: "meta"},
		{name: "not an object", body: `[1,2]`, status: 400, detailHas: "object"},
		{name: "trailing value", body: `{"to":"x"}{"to":"y"}`, status: 400, detailHas: "after the JSON value"},
		{name: "trailing garbage", body: `{"to":"x"} zz`, status: 400, detailHas: "after the JSON value"},
		{name: "too large", body: `{"to":"` + strings.Repeat("a", 100) + `"}`, limit: 50, status: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *Problem
			h := MaxBytes(tc.limit, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var v decodeTarget
				got = Decode(r, &v)
			}))
			if tc.limit == 0 {
				h = MaxBytes(1<<20, h)
			}
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			r.ContentLength = -1 // force the streaming limit, not the header check
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if tc.status == 0 {
				if got != nil {
					t.Fatalf("unexpected problem %v", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("want %d, got nil", tc.status)
			}
			if got.Status != tc.status {
				t.Fatalf("status %d, want %d (%v)", got.Status, tc.status, got)
			}
			if tc.field != "" && (len(got.Errors) != 1 || got.Errors[0].Field != tc.field) {
				t.Fatalf("errors %+v, want field %q", got.Errors, tc.field)
			}
			if tc.detailHas != "" && !strings.Contains(got.Detail, tc.detailHas) {
				t.Fatalf("detail %q lacks %q", got.Detail, tc.detailHas)
			}
		})
	}
}

func TestMaxBytesContentLength(t *testing.T) {
	called := false
	h := MaxBytes(10, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 11))))
	if called || w.Code != 413 || w.Header().Get("Content-Type") != ContentTypeProblem {
		t.Fatalf("called=%v code=%d ct=%q", called, w.Code, w.Header().Get("Content-Type"))
	}
}

func TestWriteProblem(t *testing.T) {
	w := httptest.NewRecorder()
	WriteProblem(w, NewProblem(400, "bad", FieldError{Field: "to", Message: "required"}))
	if w.Code != 400 || w.Header().Get("Content-Type") != ContentTypeProblem {
		t.Fatalf("code %d ct %q", w.Code, w.Header().Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["type"] != TypeValidation || m["title"] != "Bad Request" || m["status"] != 400.0 || m["detail"] != "bad" {
		t.Fatalf("body %v", m)
	}
	errs, _ := m["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["field"] != "to" || errs[0].(map[string]any)["message"] != "required" {
		t.Fatalf("errors %v", m["errors"])
	}

	w = httptest.NewRecorder()
	WriteProblem(w, NewProblem(418, ""))
	m = nil
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	if m["type"] != "about:blank" || m["title"] != "I'm a teapot" {
		t.Fatalf("teapot %v", m)
	}
	if _, ok := m["errors"]; ok {
		t.Fatal("errors present when empty")
	}

	w = httptest.NewRecorder()
	NotFound(w)
	if w.Code != 404 || !strings.Contains(w.Body.String(), TypeNotFound) {
		t.Fatalf("not found %d %s", w.Code, w.Body)
	}
	var p error = NewProblem(400, "d", FieldError{"f", "m"})
	if p.Error() != "Bad Request: d; f: m" {
		t.Fatalf("Error() = %q", p.Error())
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, 202, map[string]int{"a": 1})
	if w.Code != 202 || w.Header().Get("Content-Type") != "application/json" || strings.TrimSpace(w.Body.String()) != `{"a":1}` {
		t.Fatalf("%d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	w = httptest.NewRecorder()
	WriteJSON(w, 200, func() {})
	if w.Code != 500 || w.Header().Get("Content-Type") != ContentTypeProblem {
		t.Fatalf("unencodable: %d", w.Code)
	}
}

func TestAuth(t *testing.T) {
	keys := Keys{"key-a": "acme", "key-b": "beta", "": "nobody"}
	h := Auth(keys, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(Account(r.Context())))
	}))
	tests := []struct {
		header string
		code   int
		acct   string
	}{
		{"Bearer key-a", 200, "acme"},
		{"bearer key-b", 200, "beta"},
		{"Bearer   key-a  ", 200, "acme"},
		{"", 401, ""},
		{"Bearer", 401, ""},
		{"Bearer ", 401, ""},
		{"Basic key-a", 401, ""},
		{"key-a", 401, ""},
		{"Bearer key-c", 401, ""},
		{"Bearer key-a2", 401, ""},
		{"Bearer KEY-A", 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Fatalf("code %d want %d", w.Code, tc.code)
			}
			if tc.code == 200 && w.Body.String() != tc.acct {
				t.Fatalf("account %q want %q", w.Body, tc.acct)
			}
			if tc.code == 401 {
				if w.Header().Get("Content-Type") != ContentTypeProblem || w.Header().Get("WWW-Authenticate") == "" {
					t.Fatalf("401 headers %v", w.Header())
				}
			}
		})
	}
	if Account(t.Context()) != "" {
		t.Fatal("account on bare context")
	}
}
