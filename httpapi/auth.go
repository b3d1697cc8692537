package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Keys maps an API key to the id of the account it belongs to.
type Keys map[string]string

type accountKey struct{}

// WithAccount returns ctx carrying account as the authenticated account.
// Auth sets it; tests and internal callers may set it directly.
func WithAccount(ctx context.Context, account string) context.Context {
	return context.WithValue(ctx, accountKey{}, account)
}

// Account is the account authenticated for this request, "" when none.
func Account(ctx context.Context) string {
	a, _ := ctx.Value(accountKey{}).(string)
	return a
}

type authEntry struct {
	key     []byte
	account string
}

// Auth requires "Authorization: Bearer <key>" with a key in keys and puts
// its account in the request context (see Account). A missing, malformed
// or unknown key answers 401 problem+json.
//
// Keys are looked up by their SHA-256 and then compared in constant time,
// so lookup time does not depend on how much of a guess is right.
func Auth(keys Keys, next http.Handler) http.Handler {
	byHash := make(map[[32]byte]authEntry, len(keys))
	for k, acct := range keys {
		if k == "" || acct == "" {
			continue
		}
		byHash[sha256.Sum256([]byte(k))] = authEntry{key: []byte(k), account: acct}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			WriteProblem(w, NewProblem(http.StatusUnauthorized, "missing or malformed Authorization header; want: Bearer <api key>"))
			return
		}
		e, found := byHash[sha256.Sum256([]byte(tok))]
		if !found || subtle.ConstantTimeCompare(e.key, []byte(tok)) != 1 {
			WriteProblem(w, NewProblem(http.StatusUnauthorized, "unknown API key"))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithAccount(r.Context(), e.account)))
	})
}

// bearer extracts the token of a "Bearer <token>" header; the scheme is
// case-insensitive (RFC 7235).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
