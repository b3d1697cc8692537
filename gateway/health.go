package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/smsgw/smsgw/httpapi"
)

// Check is one readiness check: Fn returns nil when the named dependency is
// usable. The API always has a "nats" check; the engine adds "smsc" (at
// least one bind up) and the bridge its own.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// healthChecks is the mutable list of readiness checks.
type healthChecks struct {
	mu      sync.RWMutex
	checks  []Check
	timeout time.Duration
}

func (h *healthChecks) add(c ...Check) {
	h.mu.Lock()
	h.checks = append(h.checks, c...)
	h.mu.Unlock()
}

// healthResult is the answer of GET /readyz when ready.
type healthResult struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// run runs every check concurrently, each bounded by the timeout.
func (h *healthChecks) run(ctx context.Context) (map[string]string, []string) {
	h.mu.RLock()
	checks := append([]Check(nil), h.checks...)
	h.mu.RUnlock()
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	res := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { res[i] = healthRun(ctx, c) })
	}
	wg.Wait()
	out := make(map[string]string, len(checks))
	var failed []string
	for i, c := range checks {
		if res[i] != nil {
			out[c.Name] = res[i].Error()
			failed = append(failed, c.Name+": "+res[i].Error())
		} else {
			out[c.Name] = "ok"
		}
	}
	return out, failed
}

// healthRun runs one check, turning a panic or an overrun into an error so
// one bad check cannot hang or crash readiness.
func healthRun(ctx context.Context, c Check) (err error) {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- errHealthPanic
			}
		}()
		done <- c.Fn(ctx)
	}()
	select {
	case err = <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type healthError string

func (e healthError) Error() string { return string(e) }

const errHealthPanic = healthError("check panicked")

func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 with every check's state, or 503 problem+json whose
// detail names each failing check.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	states, failed := a.health.run(r.Context())
	if len(failed) > 0 {
		w.Header().Set("Retry-After", "1")
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusServiceUnavailable, "not ready: "+strings.Join(failed, "; ")))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, healthResult{Status: "ready", Checks: states})
}
