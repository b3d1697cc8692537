package gateway

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

func TestSeqEventID(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 4, 123e6, time.UTC)
	a := seqEventID("msg_1", 2, at)
	if a != seqEventID("msg_1", 2, at) {
		t.Fatal("not deterministic")
	}
	if !strings.HasPrefix(a, "evt_") || strings.Contains(a, ".") {
		t.Fatalf("id %q", a)
	}
	u, err := ulid.ParseStrict(strings.TrimPrefix(a, "evt_"))
	if err != nil || ulid.Time(u.Time()).UnixMilli() != at.UnixMilli() {
		t.Fatalf("ulid %q: %v", a, err)
	}
	distinct := map[string]bool{}
	for _, k := range []string{"msg_1", "msg_2", "msg_1/message.sent", "msg_1/message.failed"} {
		for seq := 1; seq <= 3; seq++ {
			distinct[seqEventID(k, seq, at)] = true
		}
	}
	if len(distinct) != 12 {
		t.Errorf("%d distinct ids of 12", len(distinct))
	}
	// A message's events sort in sequence order.
	ids := []string{seqEventID("msg_x", 3, at), seqEventID("msg_x", 1, at), seqEventID("msg_x", 2, at)}
	sort.Strings(ids)
	if ids[0] != seqEventID("msg_x", 1, at) || ids[2] != seqEventID("msg_x", 3, at) {
		t.Errorf("order %v", ids)
	}
	if m := seqMessageID("mo/x/1", at); !strings.HasPrefix(m, "msg_") || m != seqMessageID("mo/x/1", at) {
		t.Errorf("message id %q", m)
	}
	if id := seqEventID("k", 1, time.Time{}); !strings.HasPrefix(id, "evt_") {
		t.Errorf("zero time: %q", id)
	}
}

func TestEngBackoff(t *testing.T) {
	for attempt, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 7: 60 * time.Second, 50: 60 * time.Second} {
		for range 20 {
			d := engBackoff(attempt, time.Second, time.Minute)
			if d < base*8/10 || d > base*12/10 {
				t.Errorf("attempt %d: %v not within ±20%% of %v", attempt, d, base)
			}
		}
	}
}
