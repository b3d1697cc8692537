package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

// epTestBus starts a real embedded NATS with JetStream in a temp dir.
func epTestBus(t testing.TB) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func epTestStore(t testing.TB) (*EndpointStore, *bus.Bus) {
	t.Helper()
	b := epTestBus(t)
	s, err := NewEndpointStore(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

func epNew(account, url string, evs ...string) Endpoint {
	if len(evs) == 0 {
		evs = []string{FilterAll}
	}
	return Endpoint{Account: account, URL: url, Events: evs, Enabled: true}
}

func TestEndpointMatches(t *testing.T) {
	tests := []struct {
		filters []string
		typ     string
		want    bool
	}{
		{[]string{"*"}, events.MessageDelivered, true},
		{[]string{"*"}, events.ContactOptedIn, true},
		{[]string{"message.*"}, events.MessageDelivered, true},
		{[]string{"message.*"}, events.MessageInbound, true},
		{[]string{"message.*"}, events.ContactOptedOut, false},
		{[]string{"contact.*"}, events.ContactOptedOut, true},
		{[]string{"contact.*"}, events.WebhookTest, false},
		{[]string{"message.sent"}, events.MessageSent, true},
		{[]string{"message.sent"}, events.MessageDelivered, false},
		{[]string{"message.sent", "contact.opted_out"}, events.ContactOptedOut, true},
		{nil, events.MessageSent, false},
		{[]string{"message"}, "message.sent", false},
		{[]string{"message.*"}, "messagex.sent", false},
	}
	for _, tt := range tests {
		ep := Endpoint{Events: tt.filters}
		if got := ep.Matches(tt.typ); got != tt.want {
			t.Errorf("%v.Matches(%q) = %v, want %v", tt.filters, tt.typ, got, tt.want)
		}
	}
}

func TestValidateSecret(t *testing.T) {
	long := "whsec_" + strings.Repeat("QUFB", 22) // 66 bytes
	tests := []struct {
		in string
		ok bool
	}{
		{NewSecret(), true},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true}, // Standard Webhooks' own example (24 bytes)
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},
		{"whsec_", false},
		{"whsec_not base64!", false},
		{"whsec_c2hvcnQ=", false}, // 5 bytes
		{long, false},
		{"", false},
	}
	for _, tt := range tests {
		err := ValidateSecret(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateSecret(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("ValidateSecret(%q) error %v is not ErrInvalidSecret", tt.in, err)
		}
		if err != nil && tt.in != "" && strings.Contains(err.Error(), strings.TrimPrefix(tt.in, "whsec_")) && len(tt.in) > 6 {
			t.Errorf("error leaks the secret: %v", err)
		}
	}
	if a, b := NewSecret(), NewSecret(); a == b {
		t.Fatal("NewSecret repeats")
	}
}

func TestEndpointValidate(t *testing.T) {
	good := Endpoint{Account: "acme", URL: "https://client.example/hooks", Events: []string{"message.*"}, Secrets: []string{NewSecret()}}
	tests := []struct {
		name   string
		mod    func(*Endpoint)
		fields []string
	}{
		{"good", func(*Endpoint) {}, nil},
		{"http ok", func(e *Endpoint) { e.URL = "http://127.0.0.1:8080/x?a=1" }, nil},
		{"every exact type", func(e *Endpoint) { e.Events = append([]string{}, events.Types...) }, nil},
		{"relative url", func(e *Endpoint) { e.URL = "/hooks" }, []string{"url"}},
		{"ftp url", func(e *Endpoint) { e.URL = "ftp://client.example/x" }, []string{"url"}},
		{"no host", func(e *Endpoint) { e.URL = "https:///x" }, []string{"url"}},
		{"fragment", func(e *Endpoint) { e.URL = "https://a.example/#x" }, []string{"url"}},
		{"garbage url", func(e *Endpoint) { e.URL = "http://[::1" }, []string{"url"}},
		{"empty url", func(e *Endpoint) { e.URL = "" }, []string{"url"}},
		{"long url", func(e *Endpoint) { e.URL = "https://a.example/" + strings.Repeat("x", MaxURLLength) }, []string{"url"}},
		{"no events", func(e *Endpoint) { e.Events = nil }, []string{"events"}},
		{"unknown event", func(e *Endpoint) { e.Events = []string{"message.*", "message.bounced"} }, []string{"events[1]"}},
		{"bad wildcard", func(e *Endpoint) { e.Events = []string{"sms.*"} }, []string{"events[0]"}},
		{"negative rate", func(e *Endpoint) { e.RateLimit = -1 }, []string{"rate_limit"}},
		{"huge rate", func(e *Endpoint) { e.RateLimit = MaxRateLimit + 1 }, []string{"rate_limit"}},
		{"long description", func(e *Endpoint) { e.Description = strings.Repeat("d", MaxDescriptionLength+1) }, []string{"description"}},
		{"bad secret", func(e *Endpoint) { e.Secrets = []string{"nope"} }, []string{"secret"}},
		{"timeout", func(e *Endpoint) { e.Timeout = time.Hour }, []string{"timeout"}},
		{"several", func(e *Endpoint) { e.URL = "x"; e.Events = []string{"?"} }, []string{"url", "events[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := good
			ep.Events = append([]string{}, good.Events...)
			tt.mod(&ep)
			err := ep.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *EndpointValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidEndpoint) {
				t.Fatalf("error %v is not an EndpointValidationError", err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.fields) {
				t.Fatalf("fields %v, want %v", got, tt.fields)
			}
		})
	}
}

func TestStaticEndpointID(t *testing.T) {
	a := StaticEndpointID("acme", "https://a.example/x")
	if a != StaticEndpointID("acme", "https://a.example/x") {
		t.Fatal("not deterministic")
	}
	if a == StaticEndpointID("acme2", "https://a.example/x") || a == StaticEndpointID("acme", "https://a.example/y") {
		t.Fatal("collision")
	}
	if !epValidKey(a) || !strings.HasPrefix(a, "ep_0000000000") {
		t.Fatalf("static id %q has the wrong shape", a)
	}
	if !epValidKey(NewEndpointID()) {
		t.Fatal("fresh id is not a valid key")
	}
	for _, bad := range []string{"", "ep_", "ep_*", "ep_..", "ep_01J>", "evt_01JABCDEFGHJKMNPQRSTVWXYZ0", "ep_01jabcdefghjkmnpqrstvwxyz0"} {
		if epValidKey(bad) {
			t.Errorf("epValidKey(%q) = true", bad)
		}
	}
}

func TestEndpointStoreCRUD(t *testing.T) {
	s, _ := epTestStore(t)
	ctx := t.Context()

	a, err := s.Create(ctx, epNew("acme", "https://a.example/1", "message.*"))
	if err != nil {
		t.Fatal(err)
	}
	if !epValidKey(a.ID) || len(a.Secrets) != 1 || ValidateSecret(a.Secrets[0]) != nil || a.CreatedAt.IsZero() {
		t.Fatalf("create did not fill id/secret/created_at: %+v", a)
	}
	b, err := s.Create(ctx, epNew("acme", "https://a.example/2"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Create(ctx, epNew("globex", "https://g.example/1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, Endpoint{ID: a.ID, Account: "acme", URL: "https://x.example", Events: []string{"*"}}); !errors.Is(err, ErrEndpointExists) {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := s.Create(ctx, epNew("acme", "nope")); !errors.Is(err, ErrInvalidEndpoint) {
		t.Fatalf("invalid create: %v", err)
	}

	got, err := s.GetFor(ctx, "acme", a.ID)
	if err != nil || got.URL != a.URL || got.Secrets[0] != a.Secrets[0] {
		t.Fatalf("GetFor = %+v, %v", got, err)
	}
	if _, err := s.GetFor(ctx, "globex", a.ID); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("other account's endpoint: %v", err)
	}
	for _, id := range []string{"ep_nope", "../../x", "ep_*", NewEndpointID()} {
		if _, err := s.Get(ctx, id); !errors.Is(err, ErrEndpointNotFound) {
			t.Fatalf("Get(%q) = %v", id, err)
		}
	}

	list, err := s.List(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("acme list = %+v", list)
	}
	all, err := s.List(ctx, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("all = %d, %v", len(all), err)
	}

	upd, err := s.UpdateFor(ctx, "acme", a.ID, func(e *Endpoint) error {
		e.Description = "changed"
		e.Account = "globex" // ignored: owner is fixed
		return nil
	})
	if err != nil || upd.Description != "changed" || upd.Account != "acme" {
		t.Fatalf("update = %+v, %v", upd, err)
	}
	if _, err := s.UpdateFor(ctx, "acme", other.ID, func(*Endpoint) error { return nil }); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("update of other account's endpoint: %v", err)
	}
	if _, err := s.Update(ctx, a.ID, func(e *Endpoint) error { e.URL = "ftp://x"; return nil }); !errors.Is(err, ErrInvalidEndpoint) {
		t.Fatalf("invalid update: %v", err)
	}

	if err := s.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, b.ID); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("deleted endpoint: %v", err)
	}
	if err := s.Delete(ctx, b.ID); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if list, _ := s.List(ctx, "acme"); len(list) != 1 {
		t.Fatalf("list after delete = %d", len(list))
	}
}

func TestEndpointStoreEmptyList(t *testing.T) {
	s, _ := epTestStore(t)
	list, err := s.List(t.Context(), "acme")
	if err != nil || len(list) != 0 {
		t.Fatalf("empty list = %v, %v", list, err)
	}
}

func TestEndpointStoreConcurrentUpdates(t *testing.T) {
	s, _ := epTestStore(t)
	ctx := t.Context()
	ep, err := s.Create(ctx, epNew("acme", "https://a.example/"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(ctx, ep.ID, func(e *Endpoint) error { e.RateLimit++; return nil })
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Get(ctx, ep.ID)
	if got.RateLimit != n {
		t.Fatalf("rate_limit = %v after %d concurrent increments: an update was lost", got.RateLimit, n)
	}
}

func TestEndpointStoreDisable(t *testing.T) {
	s, _ := epTestStore(t)
	ctx := t.Context()
	ep, err := s.Create(ctx, epNew("acme", "https://a.example/"))
	if err != nil {
		t.Fatal(err)
	}
	changed, err := s.Disable(ctx, ep.ID, "410 Gone")
	if err != nil || !changed {
		t.Fatalf("first disable = %v, %v", changed, err)
	}
	changed, err = s.Disable(ctx, ep.ID, "again")
	if err != nil || changed {
		t.Fatalf("second disable = %v, %v", changed, err)
	}
	got, _ := s.Get(ctx, ep.ID)
	if got.Enabled || got.DisabledReason != "410 Gone" {
		t.Fatalf("after disable: %+v", got)
	}
	if _, err := s.Disable(ctx, NewEndpointID(), "x"); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("disable missing: %v", err)
	}
}

func TestEndpointStoreRotate(t *testing.T) {
	s, _ := epTestStore(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	ep, err := s.Create(ctx, epNew("acme", "https://a.example/"))
	if err != nil {
		t.Fatal(err)
	}
	old := ep.Secrets[0]
	if got := ep.ActiveSecrets(now); len(got) != 1 || got[0] != old {
		t.Fatalf("before rotation: %v", got)
	}
	if _, _, err := s.RotateSecret(ctx, "globex", ep.ID); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("rotate other account's: %v", err)
	}
	rot, secret, err := s.RotateSecret(ctx, "acme", ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if secret == old || rot.Secrets[0] != secret || rot.Secrets[1] != old || rot.RotatedAt == nil {
		t.Fatalf("after rotation: %+v", rot)
	}
	if got := rot.ActiveSecrets(now.Add(SecretGracePeriod - time.Second)); len(got) != 2 || got[0] != secret || got[1] != old {
		t.Fatalf("within grace: %v", got)
	}
	if got := rot.ActiveSecrets(now.Add(SecretGracePeriod)); len(got) != 1 || got[0] != secret {
		t.Fatalf("after grace: %v", got)
	}
	// A second rotation keeps only the one before it.
	rot2, secret2, err := s.RotateSecret(ctx, "acme", ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rot2.Secrets) != 2 || rot2.Secrets[0] != secret2 || rot2.Secrets[1] != secret {
		t.Fatalf("second rotation: %v", rot2.Secrets)
	}
}

func TestEndpointStoreWatch(t *testing.T) {
	s, _ := epTestStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	pre, err := s.Create(ctx, epNew("acme", "https://a.example/pre"))
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	ch, err := s.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func() EndpointChange {
		t.Helper()
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatal("watch closed early")
			}
			return c
		case <-ctx.Done():
			t.Fatal("no change seen")
		}
		return EndpointChange{}
	}
	if c := next(); c.Op != EndpointPut || c.ID != pre.ID || c.Endpoint.URL != pre.URL {
		t.Fatalf("initial = %+v", c)
	}
	if c := next(); c.Op != EndpointsSynced {
		t.Fatalf("want synced marker, got %+v", c)
	}
	ep, err := s.Create(ctx, epNew("acme", "https://a.example/live"))
	if err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Op != EndpointPut || c.ID != ep.ID {
		t.Fatalf("create = %+v", c)
	}
	if _, err := s.Disable(ctx, ep.ID, "gone"); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Op != EndpointPut || c.Endpoint.Enabled {
		t.Fatalf("disable = %+v", c)
	}
	if err := s.Delete(ctx, ep.ID); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Op != EndpointDeleted || c.ID != ep.ID {
		t.Fatalf("delete = %+v", c)
	}
	wcancel()
	for range ch { // closes once the watcher stops
	}
}

func TestEndpointStoreSyncStatic(t *testing.T) {
	s, _ := epTestStore(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	sec1, sec2 := NewSecret(), NewSecret()
	whs := []config.Webhook{
		{Account: "acme", URL: "https://a.example/static", Events: []string{"message.*"}, Secret: sec1, Description: "ops"},
		{Account: "globex", URL: "https://g.example/static", Secret: sec2, RateLimit: 5},
	}
	if err := s.SyncStatic(ctx, whs); err != nil {
		t.Fatal(err)
	}
	api, err := s.Create(ctx, epNew("acme", "https://a.example/api"))
	if err != nil {
		t.Fatal(err)
	}
	// Idempotent: a restart with the same config changes nothing.
	if err := s.SyncStatic(ctx, whs); err != nil {
		t.Fatal(err)
	}
	all, _ := s.List(ctx, "")
	if len(all) != 3 {
		t.Fatalf("%d endpoints after two syncs, want 3", len(all))
	}
	id := StaticEndpointID("acme", "https://a.example/static")
	ep, err := s.Get(ctx, id)
	if err != nil || !ep.Static || !ep.Enabled || ep.Secrets[0] != sec1 || ep.Description != "ops" || ep.RotatedAt != nil {
		t.Fatalf("static endpoint = %+v, %v", ep, err)
	}
	g, _ := s.Get(ctx, StaticEndpointID("globex", "https://g.example/static"))
	if len(g.Events) != 1 || g.Events[0] != FilterAll || g.RateLimit != 5 {
		t.Fatalf("defaults of static endpoint: %+v", g)
	}

	// Disabled by the bridge: stays disabled; new secret: rotation.
	if _, err := s.Disable(ctx, id, "410 Gone"); err != nil {
		t.Fatal(err)
	}
	sec3 := NewSecret()
	whs[0].Secret = sec3
	if err := s.SyncStatic(ctx, whs[:1]); err != nil { // globex's is gone from the config
		t.Fatal(err)
	}
	ep, _ = s.Get(ctx, id)
	if ep.Enabled || len(ep.Secrets) != 2 || ep.Secrets[0] != sec3 || ep.Secrets[1] != sec1 || ep.RotatedAt == nil {
		t.Fatalf("after config change: %+v", ep)
	}
	if _, err := s.Get(ctx, g.ID); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("undeclared static endpoint still there: %v", err)
	}
	if _, err := s.Get(ctx, api.ID); err != nil {
		t.Fatalf("API endpoint removed by sync: %v", err)
	}
	if _, _, err := s.RotateSecret(ctx, "acme", id); !errors.Is(err, ErrStaticEndpoint) {
		t.Fatalf("rotate static: %v", err)
	}

	// A bad static endpoint is reported with its index.
	err = s.SyncStatic(ctx, []config.Webhook{{Account: "acme", URL: "nope", Secret: sec1}})
	if err == nil || !strings.Contains(err.Error(), "webhooks[0]") {
		t.Fatalf("bad static endpoint: %v", err)
	}
}
