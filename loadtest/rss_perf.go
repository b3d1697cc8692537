package loadtest

import (
	"context"
	"sync"
	"time"
)

// RSSSample is one reading of a process's resident set size.
type RSSSample struct {
	At    time.Time `json:"at"`
	Bytes int64     `json:"bytes"`
}

// RSSTrend compares the start of a run with its end, the soak criterion
// "RSS flat within 20 %".
type RSSTrend struct {
	// Samples taken, every Every.
	Samples int     `json:"samples"`
	Every   float64 `json:"every_seconds"`
	// Window is how long the first and last windows are (a minute, or a
	// third of the run when it is shorter than three minutes).
	WindowSeconds float64 `json:"window_seconds"`
	// FirstMean and LastMean average the samples of the first and the last
	// window; Growth is LastMean/FirstMean - 1.
	FirstMean int64   `json:"first_window_mean_bytes"`
	LastMean  int64   `json:"last_window_mean_bytes"`
	Max       int64   `json:"max_bytes"`
	Growth    float64 `json:"growth"`
}

// Trend summarises samples (in time order). It is zero without samples.
func Trend(samples []RSSSample, every time.Duration) RSSTrend {
	t := RSSTrend{Samples: len(samples), Every: every.Seconds()}
	if len(samples) == 0 {
		return t
	}
	span := samples[len(samples)-1].At.Sub(samples[0].At)
	window := time.Minute
	if span < 3*time.Minute {
		window = max(span/3, time.Nanosecond)
	}
	t.WindowSeconds = window.Seconds()
	first, last := samples[0].At.Add(window), samples[len(samples)-1].At.Add(-window)
	var fs, fn, ls, ln int64
	for _, s := range samples {
		t.Max = max(t.Max, s.Bytes)
		if !s.At.After(first) {
			fs, fn = fs+s.Bytes, fn+1
		}
		if !s.At.Before(last) {
			ls, ln = ls+s.Bytes, ln+1
		}
	}
	t.FirstMean, t.LastMean = fs/fn, ls/ln
	if t.FirstMean > 0 {
		t.Growth = float64(t.LastMean)/float64(t.FirstMean) - 1
	}
	return t
}

// RSSSampler reads a process's RSS every interval until Stop.
type RSSSampler struct {
	every   time.Duration
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	samples []RSSSample
	err     error
}

// SampleRSS starts sampling pid (0: this process) every interval (default
// 1s); the first sample is taken at once.
func SampleRSS(ctx context.Context, pid int, every time.Duration, now func() time.Time) *RSSSampler {
	if every <= 0 {
		every = time.Second
	}
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &RSSSampler{every: every, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			b, err := CurrentRSS(pid)
			s.mu.Lock()
			if err != nil {
				s.err = err
			} else {
				s.samples = append(s.samples, RSSSample{At: now(), Bytes: b})
			}
			s.mu.Unlock()
			if err != nil {
				return // the process is gone
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling (safe to call twice) and returns the trend, with the
// error that ended it early, if any.
func (s *RSSSampler) Stop() (RSSTrend, []RSSSample, error) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return Trend(s.samples, s.every), s.samples, s.err
}
