package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/smsgw/smsgw/bus"
)

// An opt-out added or removed through one Store (instance) is seen by
// another's cached check within the documented bound, and at once by its
// own.
func TestOptOutCacheAcrossInstances(t *testing.T) {
	ctx := t.Context()
	b, err := bus.Open(context.Background(), bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	a, err := OpenStore(context.Background(), StoreConfig{Bus: b})
	if err != nil {
		t.Fatal(err)
	}
	o, err := OpenStore(context.Background(), StoreConfig{Bus: b})
	if err != nil {
		t.Fatal(err)
	}
	const n = "+447700900555"
	// Warm both caches until they answer from memory.
	for _, s := range []*Store{a, o} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if has, err := s.Has(ctx, "acme", n); err != nil || has {
				t.Fatalf("has before add: %v %v", has, err)
			}
			if _, ok := s.oc.lookup("acme.447700900555", time.Now()); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("cache never became fresh")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := a.Add(ctx, "acme", n, "STOP"); err != nil {
		t.Fatal(err)
	}
	if has, err := a.Has(ctx, "acme", n); err != nil || !has {
		t.Fatalf("own add not seen at once: %v %v", has, err)
	}
	start := time.Now()
	for {
		has, err := o.Has(ctx, "acme", n)
		if err != nil {
			t.Fatal(err)
		}
		if has {
			break
		}
		if time.Since(start) > optCacheMaxStale+time.Second {
			t.Fatalf("other instance did not see the opt-out within %v", optCacheMaxStale)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := o.Remove(ctx, "acme", n); err != nil {
		t.Fatal(err)
	}
	if has, err := o.Has(ctx, "acme", n); err != nil || has {
		t.Fatalf("own remove not seen at once: %v %v", has, err)
	}
	start = time.Now()
	for {
		has, err := a.Has(ctx, "acme", n)
		if err != nil {
			t.Fatal(err)
		}
		if !has {
			break
		}
		if time.Since(start) > optCacheMaxStale+time.Second {
			t.Fatalf("other instance did not see the removal within %v", optCacheMaxStale)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
