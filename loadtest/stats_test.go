package loadtest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1..100 ms
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value any p", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p95 of 1..100", hundred, 95, 95 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p99.9 rounds up to max", hundred, 99.9, 100 * time.Millisecond},
		{"p100 is max", hundred, 100, 100 * time.Millisecond},
		{"p0 is min", hundred, 0, 1 * time.Millisecond},
		{"negative p is min", hundred, -5, 1 * time.Millisecond},
		{"p50 of four is second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p51 of four is third", ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{"p95 of ten is tenth", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 95, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Fatalf("Percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	got := Summarize(ms(30, 10, 20, 40))
	want := Latency{Count: 4, Min: 10 * time.Millisecond, Mean: 25 * time.Millisecond,
		P50: 20 * time.Millisecond, P95: 40 * time.Millisecond, P99: 40 * time.Millisecond, Max: 40 * time.Millisecond}
	if got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
	if (Summarize(nil) != Latency{}) {
		t.Fatal("Summarize(nil) not zero")
	}
}

func TestPerSecond(t *testing.T) {
	tests := []struct {
		n    int
		d    time.Duration
		want float64
	}{{1000, 2 * time.Second, 500}, {5, 0, 0}, {5, -time.Second, 0}, {3, 1500 * time.Millisecond, 2}}
	for _, tt := range tests {
		if got := PerSecond(tt.n, tt.d); got != tt.want {
			t.Errorf("PerSecond(%d, %v) = %v, want %v", tt.n, tt.d, got, tt.want)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"Name:\tsmsgw\nVmPeak:\t  999 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n", 12345 * 1024, false},
		{"VmHWM: 0 kB\n", 0, false},
		{"Name: x\n", 0, true},
		{"VmHWM: lots kB\n", 0, true},
		{"VmHWM: 12 MB\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseStatusKB(strings.NewReader(tt.in), "VmHWM:")
		if got != tt.want || (err != nil) != tt.err || (err != nil && !errors.Is(err, ErrNoProcess)) {
			t.Errorf("parseStatusKB(%q, VmHWM) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if rss, err := PeakRSS(0); err != nil || rss <= 0 {
		t.Errorf("PeakRSS(self) = %d, %v", rss, err)
	}
	if _, err := PeakRSS(1 << 30); !errors.Is(err, ErrNoProcess) {
		t.Errorf("PeakRSS(no such pid): %v", err)
	}
}

func TestDestinations(t *testing.T) {
	got, err := Destinations("+4477009", 2000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range got {
		if len(n) != 13 || !strings.HasPrefix(n, "+4477009") {
			t.Fatalf("number %q: want +4477009 and 12 digits", n)
		}
		for _, e := range badEndings {
			if strings.HasSuffix(n, e) {
				t.Fatalf("number %q ends in the failure ending %s", n, e)
			}
		}
		if seen[n] {
			t.Fatalf("duplicate %q", n)
		}
		seen[n] = true
	}
	if len(got) != 2000 {
		t.Fatalf("got %d numbers", len(got))
	}
	// A long prefix still gets 3 digits and wraps around when exhausted.
	wrap, err := Destinations("+447700900123", 1005)
	if err != nil || len(wrap) != 1005 || wrap[0] != "+447700900123000" {
		t.Fatalf("wrap: %v %v", wrap[:1], err)
	}
	for _, bad := range []string{"", "4477", "+", "+44a", "+1234567890123"} {
		if _, err := Destinations(bad, 1); !errors.Is(err, ErrConfig) {
			t.Errorf("Destinations(%q): %v, want ErrConfig", bad, err)
		}
	}
}
