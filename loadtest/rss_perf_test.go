package loadtest

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseStatusKB(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int64
		ok       bool
	}{
		{"rss", "Name:\tsmsgw\nVmHWM:\t  9000 kB\nVmRSS:\t  1234 kB\n", 1234 * 1024, true},
		{"missing", "Name:\tsmsgw\nVmHWM:\t 9000 kB\n", 0, false},
		{"no unit", "VmRSS:\t1234\n", 0, false},
		{"negative", "VmRSS:\t-1 kB\n", 0, false},
		{"garbage", "VmRSS:\tlots kB\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatusKB(strings.NewReader(tc.in), "VmRSS:")
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("got %d, %v; want %d, ok %v", got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrNoProcess) {
				t.Errorf("error %v does not wrap ErrNoProcess", err)
			}
		})
	}
}

func TestTrend(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ramp := func(n int, every time.Duration, mib func(i int) int64) []RSSSample {
		s := make([]RSSSample, n)
		for i := range s {
			s[i] = RSSSample{At: t0.Add(time.Duration(i) * every), Bytes: mib(i) << 20}
		}
		return s
	}
	for _, tc := range []struct {
		name        string
		samples     []RSSSample
		first, last int64 // MiB
		window      time.Duration
		growth      float64
	}{
		{"flat 10 minutes", ramp(601, time.Second, func(int) int64 { return 100 }), 100, 100, time.Minute, 0},
		// 100 MiB for the first minute, 150 from the ninth on.
		{"grows 50 %", ramp(601, time.Second, func(i int) int64 {
			if i > 480 {
				return 150
			}
			return 100
		}), 100, 150, time.Minute, 0.5},
		// A 30 s run compares its first and last 10 s.
		{"short run", ramp(31, time.Second, func(i int) int64 { return int64(100 + i) }), 105, 125, 10 * time.Second, 20.0 / 105},
		{"one sample", ramp(1, time.Second, func(int) int64 { return 80 }), 80, 80, time.Nanosecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := Trend(tc.samples, time.Second)
			if tr.FirstMean != tc.first<<20 || tr.LastMean != tc.last<<20 {
				t.Errorf("first %d last %d MiB, want %d %d", tr.FirstMean>>20, tr.LastMean>>20, tc.first, tc.last)
			}
			if tr.WindowSeconds != tc.window.Seconds() {
				t.Errorf("window %vs, want %v", tr.WindowSeconds, tc.window)
			}
			if math.Abs(tr.Growth-tc.growth) > 1e-9 {
				t.Errorf("growth %v, want %v", tr.Growth, tc.growth)
			}
			if tr.Samples != len(tc.samples) {
				t.Errorf("samples %d", tr.Samples)
			}
		})
	}
	if tr := Trend(nil, time.Second); tr.Samples != 0 || tr.FirstMean != 0 || tr.Growth != 0 {
		t.Errorf("empty trend %+v", tr)
	}
}

func TestSampleRSSOfThisProcess(t *testing.T) {
	s := SampleRSS(context.Background(), 0, 5*time.Millisecond, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.samples)
		s.mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	tr, samples, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 3 || tr.Samples != len(samples) || tr.Max <= 0 || tr.FirstMean <= 0 {
		t.Fatalf("trend %+v from %d samples", tr, len(samples))
	}
	if _, _, err := s.Stop(); err != nil { // twice is fine
		t.Fatal(err)
	}
}

func TestSampleRSSOfAMissingProcess(t *testing.T) {
	s := SampleRSS(context.Background(), math.MaxInt32, time.Millisecond, nil)
	tr, _, err := s.Stop()
	if !errors.Is(err, ErrNoProcess) || tr.Samples != 0 {
		t.Fatalf("got %+v, %v; want no samples and ErrNoProcess", tr, err)
	}
}
