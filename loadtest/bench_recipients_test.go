package loadtest

import (
	"errors"
	"testing"
	"time"
)

func TestBenchDestinationsRecipients(t *testing.T) {
	all, err := benchDestinations("+4477009", 25, 0)
	if err != nil || len(all) != 25 || all[0] == all[24] {
		t.Fatalf("recipients 0: %v %v", all, err)
	}
	got, err := benchDestinations("+4477009", 25, 10)
	if err != nil || len(got) != 25 {
		t.Fatalf("recipients 10: %v %v", got, err)
	}
	distinct := map[string]bool{}
	for i, n := range got {
		distinct[n] = true
		if n != got[i%10] {
			t.Fatalf("message %d goes to %s, want %s (cycling)", i, n, got[i%10])
		}
	}
	if len(distinct) != 10 {
		t.Fatalf("%d distinct destinations, want 10", len(distinct))
	}
	if _, err := benchDestinations("+4477009", 5, -1); !errors.Is(err, ErrConfig) {
		t.Fatalf("recipients -1: %v", err)
	}
}

func TestAfterWarmup(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var s []RSSSample
	for i := range 10 {
		s = append(s, RSSSample{At: t0.Add(time.Duration(i) * time.Second), Bytes: int64(i)})
	}
	if got := afterWarmup(s, 3*time.Second); len(got) != 7 || got[0].Bytes != 3 {
		t.Fatalf("warm-up 3s: %v", got)
	}
	if got := afterWarmup(s, time.Minute); len(got) != 0 {
		t.Fatalf("warm-up past the end: %v", got)
	}
}
