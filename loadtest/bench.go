package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/smsgw/smsgw/client"
)

// BenchConfig configures Bench.
type BenchConfig struct {
	// Client is the API client of the account the messages go out for.
	// Required.
	Client *client.Client
	// N is the number of messages. Required (> 0).
	N int
	// Rate, Concurrency and Batch: see SendConfig.
	Rate        float64
	Concurrency int
	Batch       int
	// ToPrefix starts every destination; digits are appended to make each
	// one unique (while they last) and a full-length number. Default
	// "+4477009". Endings the simulator turns into a failure (1400, 1404,
	// 1408, 1409, 1410, 1499) are skipped, so every message is deliverable.
	ToPrefix string
	// Recipients > 0 cycles through that many distinct destinations (a
	// recipient population: per-destination state such as sms_last_sent
	// stays bounded by it); 0 gives every message its own destination.
	Recipients int
	// Text of every message. Default "smsgw bench".
	Text string
	// Timeout is how long to wait for the final events after the last
	// submit. Default 60s.
	Timeout time.Duration
	// ReceiverAddr is where the webhook receiver listens. Default
	// "127.0.0.1:0".
	ReceiverAddr string
	// GatewayPID is the process whose peak RSS is reported; 0 reports
	// none, -1 this process (bench started the server in-process).
	GatewayPID int
	// RSSEvery > 0 samples GatewayPID's current RSS at that interval from
	// the first submit to the last final event, for Report.RSS (a soak
	// run's first-minute vs last-minute comparison).
	RSSEvery time.Duration
	// RSSWarmup leaves the samples of the first RSSWarmup out of
	// Report.RSS, so its first window is the working set at the rate
	// rather than the climb to it from an idle process (JetStream's
	// 2-minute dedupe windows, caches and per-message TTLs fill first).
	RSSWarmup time.Duration
	// OnProgress is called as submits are answered and finals arrive.
	// Optional; never concurrently.
	OnProgress func(Progress)
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Progress is where a bench run is.
type Progress struct {
	Answered, Accepted, Finals, N int
}

// Report is the outcome of a bench run.
type Report struct {
	N           int `json:"n"`
	Accepted    int `json:"accepted"`
	Refused     int `json:"refused"`
	Errors      int `json:"errors"`
	Concurrency int `json:"concurrency"`
	Batch       int `json:"batch"`
	// Rate asked for (0: as fast as possible).
	Rate float64 `json:"rate"`
	// SubmitSeconds: first submit sent → last submit answered.
	SubmitSeconds  float64 `json:"submit_seconds"`
	AcceptedPerSec float64 `json:"accepted_per_sec"`
	// E2ESeconds: first submit sent → last final webhook received.
	E2ESeconds float64 `json:"e2e_seconds"`
	E2EPerSec  float64 `json:"e2e_per_sec"`
	// Latency: from a message's submit request to its final webhook.
	Latency Latency        `json:"latency"`
	Finals  map[string]int `json:"finals"` // by event type
	Lost    int            `json:"lost"`   // accepted, no final event by the timeout
	// LostSample lists up to 10 lost message ids, for a look with
	// GET /v1/messages/{id}.
	LostSample []string      `json:"lost_sample,omitempty"`
	Receiver   ReceiverStats `json:"receiver"`
	PeakRSS    int64         `json:"gateway_peak_rss_bytes,omitempty"`
	RSSError   string        `json:"gateway_peak_rss_error,omitempty"`
	// RSS: the gateway's RSS over the run (with BenchConfig.RSSEvery),
	// after RSSWarmupSeconds.
	RSS       *RSSTrend      `json:"gateway_rss,omitempty"`
	Reasons   map[string]int `json:"refused_reasons,omitempty"`
	TimedOut  bool           `json:"timed_out"`
	WebhookID string         `json:"webhook_id"`

	// RSSWarmupSeconds is BenchConfig.RSSWarmup: how long after the first
	// submit RSS began to count.
	RSSWarmupSeconds float64 `json:"gateway_rss_warmup_seconds,omitempty"`
	// RSSWhole is the trend of the whole run, warm-up included (set with
	// a warm-up only).
	RSSWhole *RSSTrend `json:"gateway_rss_whole,omitempty"`
}

// badEndings are the destination endings the simulator does not deliver.
var badEndings = []string{"1400", "1404", "1408", "1409", "1410", "1499"}

// Destinations returns n numbers starting with prefix, padded with digits
// to 12 digits in all (at least 3 added), skipping the simulator's failure
// endings. They are unique while the padding allows, then wrap around.
func Destinations(prefix string, n int) ([]string, error) {
	digits := strings.TrimPrefix(prefix, "+")
	if !strings.HasPrefix(prefix, "+") || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, fmt.Errorf("%w: to prefix %q: want + and digits, e.g. +4477009", ErrConfig, prefix)
	}
	width := max(12-len(digits), 3)
	if len(digits)+width > 15 {
		return nil, fmt.Errorf("%w: to prefix %q: too long for an E.164 number", ErrConfig, prefix)
	}
	limit := 1
	for range width {
		limit *= 10
	}
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		s := fmt.Sprintf("%s%0*d", prefix, width, i%limit)
		if deliverable(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// benchDestinations is the destination of each of n messages: Destinations
// when recipients is 0, else that many of them in turn.
func benchDestinations(prefix string, n, recipients int) ([]string, error) {
	if recipients < 0 {
		return nil, fmt.Errorf("%w: recipients must be >= 0", ErrConfig)
	}
	if recipients == 0 || recipients >= n {
		return Destinations(prefix, n)
	}
	pop, err := Destinations(prefix, recipients)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		out[i] = pop[i%recipients]
	}
	return out, nil
}

func deliverable(num string) bool {
	for _, e := range badEndings {
		if strings.HasSuffix(num, e) {
			return false
		}
	}
	return true
}

// Bench registers a webhook endpoint pointing at its own receiver, sends N
// messages, waits for their final events (or Timeout) and reports. The
// endpoint is deleted at the end, even when ctx was cancelled.
func Bench(ctx context.Context, cfg BenchConfig) (*Report, error) {
	if cfg.Client == nil || cfg.N <= 0 {
		return nil, fmt.Errorf("%w: Client and N > 0 are required", ErrConfig)
	}
	if cfg.ToPrefix == "" {
		cfg.ToPrefix = "+4477009"
	}
	if cfg.Text == "" {
		cfg.Text = "smsgw bench"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tos, err := benchDestinations(cfg.ToPrefix, cfg.N, cfg.Recipients)
	if err != nil {
		return nil, err
	}
	secret, err := NewSecret()
	if err != nil {
		return nil, err
	}
	recv, err := StartReceiver(ReceiverConfig{Secret: secret, Addr: cfg.ReceiverAddr, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer recv.Close()

	ep, err := cfg.Client.CreateWebhook(ctx, client.WebhookRequest{
		URL: recv.URL(), Events: FinalTypes, Secret: secret,
		Description: "smsgw bench " + cfg.Now().UTC().Format(time.RFC3339),
	})
	if err != nil {
		if errors.Is(err, client.ErrInvalid) {
			return nil, fmt.Errorf("loadtest: register webhook %s (a loopback target needs bridge.allow_private_targets: true): %w", recv.URL(), err)
		}
		return nil, fmt.Errorf("loadtest: register webhook: %w", err)
	}
	defer func() {
		// The run's context may be cancelled; the endpoint still goes.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := cfg.Client.DeleteWebhook(dctx, ep.ID); err != nil {
			cfg.Logger.Warn("could not delete the bench webhook", "webhook_id", ep.ID, "err", err)
		}
	}()

	items := make([]Item, cfg.N)
	for i := range items {
		items[i] = Item{Req: client.SubmitRequest{
			To: tos[i], Text: cfg.Text, Metadata: map[string]string{"bench": "1", "seq": fmt.Sprint(i)},
		}}
	}
	sent := make(map[string]time.Time, cfg.N) // message id → submit request time
	ids := make([]string, 0, cfg.N)
	prog := Progress{N: cfg.N}
	progress := func() {
		if cfg.OnProgress != nil {
			cfg.OnProgress(prog)
		}
	}
	var sampler *RSSSampler
	if cfg.RSSEvery > 0 && cfg.GatewayPID != 0 {
		sampler = SampleRSS(ctx, max(cfg.GatewayPID, 0), cfg.RSSEvery, cfg.Now)
		defer sampler.Stop()
	}
	sum, sendErr := Send(ctx, SendConfig{
		Client: cfg.Client, Rate: cfg.Rate, Concurrency: cfg.Concurrency, Batch: cfg.Batch, Now: cfg.Now,
		OnResult: func(r Result) {
			prog.Answered++
			if r.Accepted() {
				prog.Accepted++
				sent[r.MessageID] = r.Start
				ids = append(ids, r.MessageID)
			}
			// Finals also count while submitting (no lock needed: the
			// receiver's own lock guards it).
			prog.Finals = recv.Stats().Finals
			progress()
		},
	}, items)
	firstSubmit := time.Time{}
	for _, t := range sent {
		if firstSubmit.IsZero() || t.Before(firstSubmit) {
			firstSubmit = t
		}
	}

	rep := &Report{
		N: cfg.N, Accepted: sum.Accepted, Refused: sum.Refused, Errors: sum.Errors,
		Concurrency: cfg.Concurrency, Batch: cfg.Batch, Rate: cfg.Rate,
		SubmitSeconds: sum.Elapsed.Seconds(), AcceptedPerSec: PerSecond(sum.Accepted, sum.Elapsed),
		Reasons: sum.Reasons, WebhookID: ep.ID, Finals: map[string]int{},
	}
	if sendErr == nil {
		rep.TimedOut = !waitFinals(ctx, recv, ids, cfg.Timeout, func(n int) {
			prog.Finals = n
			progress()
		})
	}

	if sampler != nil {
		tr, samples, err := sampler.Stop()
		if cfg.RSSWarmup > 0 && len(samples) > 0 {
			whole := tr
			rep.RSSWhole = &whole
			tr = Trend(afterWarmup(samples, cfg.RSSWarmup), cfg.RSSEvery)
			rep.RSSWarmupSeconds = cfg.RSSWarmup.Seconds()
		}
		rep.RSS = &tr
		if err != nil && rep.RSSError == "" {
			rep.RSSError = err.Error()
		}
	}

	var lat []time.Duration
	var lastFinal time.Time
	for _, id := range ids {
		f, ok := recv.Final(id)
		if !ok {
			rep.Lost++
			if len(rep.LostSample) < 10 {
				rep.LostSample = append(rep.LostSample, id)
			}
			continue
		}
		rep.Finals[f.Type]++
		lat = append(lat, f.At.Sub(sent[id]))
		if f.At.After(lastFinal) {
			lastFinal = f.At
		}
	}
	rep.Latency = Summarize(lat)
	if !lastFinal.IsZero() {
		e2e := lastFinal.Sub(firstSubmit)
		rep.E2ESeconds = e2e.Seconds()
		rep.E2EPerSec = PerSecond(len(lat), e2e)
	}
	rep.Receiver = recv.Stats()
	if cfg.GatewayPID != 0 {
		pid := cfg.GatewayPID
		if pid < 0 {
			pid = 0
		}
		if rss, err := PeakRSS(pid); err != nil {
			rep.RSSError = err.Error()
		} else {
			rep.PeakRSS = rss
		}
	}
	return rep, sendErr
}

// afterWarmup drops the samples taken in the first warmup of the run.
func afterWarmup(samples []RSSSample, warmup time.Duration) []RSSSample {
	from := samples[0].At.Add(warmup)
	for i, s := range samples {
		if !s.At.Before(from) {
			return samples[i:]
		}
	}
	return nil
}

// waitFinals waits until every id has a final event; false on timeout or
// when ctx ends.
func waitFinals(ctx context.Context, recv *Receiver, ids []string, timeout time.Duration, progress func(int)) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	// Recounting all ids is O(n); a tick bounds how often that happens.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		n := recv.CountFinals(ids)
		progress(n)
		if n == len(ids) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return false
		case <-tick.C:
		case <-recv.Notify():
			// Coalesce bursts of finals into at most one count per tick.
			select {
			case <-tick.C:
			case <-t.C:
				return recv.CountFinals(ids) == len(ids)
			case <-ctx.Done():
				return false
			}
		}
	}
}
