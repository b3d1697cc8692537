package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// OptOut is one number on an account's suppression list.
type OptOut struct {
	// Number is +E.164.
	Number string `json:"number"`
	// Keyword is the inbound keyword that opted the number out ("STOP"),
	// empty when added through the API.
	Keyword   string    `json:"keyword,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// optOutKey is the KV key of number (with or without '+') for account.
func optOutKey(account, number string) (string, error) {
	digits := strings.TrimPrefix(number, "+")
	if digits == "" || len(digits) > 15 {
		return "", fmt.Errorf("gateway: opt-out number %q: want + and 1 to 15 digits", number)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", fmt.Errorf("gateway: opt-out number %q: want + and 1 to 15 digits", number)
		}
	}
	if !validKeyToken(account) {
		return "", fmt.Errorf("gateway: opt-out account %q: invalid", account)
	}
	return account + "." + digits, nil
}

// AddOptOut puts number (E.164, '+' optional) on account's suppression
// list; keyword is the inbound keyword that caused it ("" for the API). It
// reports whether the number was new. Adding a listed number again keeps
// the first entry.
func (s *Store) AddOptOut(ctx context.Context, account, number, keyword string) (OptOut, bool, error) {
	k, err := optOutKey(account, number)
	if err != nil {
		return OptOut{}, false, err
	}
	if err := s.connected(); err != nil {
		return OptOut{}, false, err
	}
	o := OptOut{Number: "+" + strings.TrimPrefix(number, "+"), Keyword: keyword, CreatedAt: time.Now().UTC()}
	v, _ := json.Marshal(o)
	rev, err := s.optouts.Create(ctx, k, v)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return OptOut{}, false, storeUnavailable("add opt-out", err)
		}
		e, gerr := s.optouts.Get(ctx, k)
		if gerr != nil {
			return OptOut{}, false, storeUnavailable("add opt-out", gerr)
		}
		s.optCacheSet(k, e.Revision(), true)
		var cur OptOut
		if json.Unmarshal(e.Value(), &cur) != nil {
			cur = o
		}
		return cur, false, nil
	}
	s.optCacheSet(k, rev, true)
	return o, true, nil
}

// optCacheSet applies this instance's own opt-out write to the cache.
func (s *Store) optCacheSet(key string, rev uint64, in bool) {
	s.optCacheStart()
	if s.oc != nil {
		s.oc.set(key, rev, in)
	}
}

// Add is AddOptOut for the engine's STOP handling.
func (s *Store) Add(ctx context.Context, account, number, keyword string) error {
	_, _, err := s.AddOptOut(ctx, account, number, keyword)
	return err
}

// Remove takes number off account's suppression list; ErrNotFound when it
// was not on it.
func (s *Store) Remove(ctx context.Context, account, number string) error {
	k, err := optOutKey(account, number)
	if err != nil {
		return ErrNotFound
	}
	if err := s.connected(); err != nil {
		return err
	}
	if _, err := s.optouts.Get(ctx, k); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return ErrNotFound
		}
		return storeUnavailable("remove opt-out", err)
	}
	// Purge rather than Delete: nothing needs the history, and a purged
	// key does not linger as a delete marker. Published as KV's Purge
	// does, to learn its revision for the opt-out cache.
	m := nats.NewMsg(kvSubject(BucketOptOuts, k))
	m.Header.Set("KV-Operation", "PURGE")
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	ack, err := s.js.PublishMsg(ctx, m)
	if err != nil {
		return storeUnavailable("remove opt-out", err)
	}
	s.optCacheSet(k, ack.Sequence, false)
	return nil
}

// Has reports whether number is on account's suppression list.
func (s *Store) Has(ctx context.Context, account, number string) (bool, error) {
	k, err := optOutKey(account, number)
	if err != nil {
		return false, err
	}
	if err := s.connected(); err != nil {
		return false, err
	}
	// The watched copy, when it is fresh (see optCache); else KV.
	s.optCacheStart()
	if s.oc != nil {
		if has, ok := s.oc.lookup(k, time.Now()); ok {
			return has, nil
		}
	}
	ctx, stop := s.whileConnected(ctx)
	defer stop()
	_, err = s.optouts.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeUnavailable("check opt-out", dropped(ctx, err))
	}
	return true, nil
}

// List returns account's suppression list ordered by number.
func (s *Store) List(ctx context.Context, account string) ([]OptOut, error) {
	if !validKeyToken(account) {
		return nil, fmt.Errorf("gateway: opt-out account %q: invalid", account)
	}
	if err := s.connected(); err != nil {
		return nil, err
	}
	w, err := s.optouts.WatchFiltered(ctx, []string{account + ".>"}, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, storeUnavailable("list opt-outs", err)
	}
	defer func() { _ = w.Stop() }()
	out := []OptOut{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("gateway: list opt-outs: %w: watcher closed", ErrUnavailable)
			}
			if e == nil { // initial values done
				sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
				return out, nil
			}
			var o OptOut
			if err := json.Unmarshal(e.Value(), &o); err != nil {
				s.log.Warn("skipping malformed opt-out record", "key", e.Key(), "err", err)
				continue
			}
			out = append(out, o)
		case <-ctx.Done():
			return nil, storeUnavailable("list opt-outs", ctx.Err())
		}
	}
}
