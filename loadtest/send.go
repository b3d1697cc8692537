package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/smsgw/smsgw/client"
)

// SendConfig configures Send.
type SendConfig struct {
	// Client sends the requests. Required.
	Client *client.Client
	// Rate is the most messages per second (a batch of n counts n); 0 is
	// as fast as Concurrency allows.
	Rate float64
	// Concurrency is the number of requests in flight. Default 8.
	Concurrency int
	// Batch > 0 sends through POST /v1/messages/batch in chunks of this
	// many (1 to client.MaxBatch); 0 sends one message per request.
	Batch int
	// OnResult is called once per item, in no particular order, never
	// concurrently. Optional.
	OnResult func(Result)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Result is the outcome of one input item.
type Result struct {
	Index int // position in the items slice
	Line  int // input line (0 when the items did not come from a file)
	// Status is the item's HTTP status (202 accepted, 4xx/5xx refused), 0
	// when the item never got an answer.
	Status    int
	MessageID string
	// Problem is the server's refusal; Err a local or transport error.
	Problem *client.Problem
	Err     error
	// Start is when the request carrying the item was sent; End when its
	// answer arrived.
	Start, End time.Time
}

// Accepted reports whether the gateway took the message.
func (r Result) Accepted() bool { return r.Status == http.StatusAccepted && r.MessageID != "" }

// Reason is a short description of why the item was not accepted ("" when
// it was), the key refusals are counted by.
func (r Result) Reason() string {
	switch {
	case r.Accepted():
		return ""
	case r.Problem != nil:
		return fmt.Sprintf("%d %s", r.Problem.Status, r.Problem.Reason())
	case r.Err != nil:
		var le *LineError
		if errors.As(r.Err, &le) {
			return "invalid line: " + le.Err.Error()
		}
		var te *client.TransportError
		if errors.As(r.Err, &te) {
			return "no answer: " + te.Err.Error()
		}
		return r.Err.Error()
	}
	return fmt.Sprintf("status %d", r.Status)
}

// Summary counts the results of a Send.
type Summary struct {
	Total    int `json:"total"`
	Accepted int `json:"accepted"`
	// Refused: refused by the gateway or unusable input lines.
	Refused int `json:"refused"`
	// Errors: no answer at all (connection refused, timeout).
	Errors int `json:"errors"`
	// Skipped: not sent because the run was cancelled.
	Skipped int `json:"skipped"`
	// Reasons counts refusals and errors by Result.Reason.
	Reasons map[string]int `json:"reasons,omitempty"`
	// Elapsed is the wall time from the first request to the last answer.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// OK reports whether every item was accepted.
func (s Summary) OK() bool { return s.Accepted == s.Total }

// ReasonCount is one line of a summary's refusal table.
type ReasonCount struct {
	Reason string
	Count  int
}

// SortedReasons lists the reasons, most frequent first (ties by text).
func (s Summary) SortedReasons() []ReasonCount {
	out := make([]ReasonCount, 0, len(s.Reasons))
	for r, n := range s.Reasons {
		out = append(out, ReasonCount{r, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

func (s *Summary) add(r Result) {
	switch {
	case r.Accepted():
		s.Accepted++
		return
	case r.Status == 0 && r.Problem == nil && r.Err != nil && isSkip(r.Err):
		s.Skipped++
		return
	case r.Problem != nil:
		s.Refused++
	case r.Err != nil:
		var le *LineError
		if errors.As(r.Err, &le) {
			s.Refused++
		} else {
			s.Errors++
		}
	default:
		s.Refused++
	}
	if s.Reasons == nil {
		s.Reasons = map[string]int{}
	}
	s.Reasons[r.Reason()]++
}

// errSkipped marks items not sent because the context ended first.
var errSkipped = errors.New("not sent: cancelled")

func isSkip(err error) bool { return errors.Is(err, errSkipped) }

// chunk is a run of items sent in one request.
type chunk struct{ from, to int }

// Send sends every item and returns the counts. Items with Err set are
// reported as refused without a request. When ctx ends, requests in flight
// finish (or fail with the context) and the rest are counted as skipped;
// the error is then ctx.Err().
func Send(ctx context.Context, cfg SendConfig, items []Item) (Summary, error) {
	if cfg.Client == nil {
		return Summary{}, fmt.Errorf("%w: Client is required", ErrConfig)
	}
	if cfg.Batch < 0 || cfg.Batch > client.MaxBatch {
		return Summary{}, fmt.Errorf("%w: batch %d: want 0 (single submits) to %d", ErrConfig, cfg.Batch, client.MaxBatch)
	}
	if cfg.Rate < 0 {
		return Summary{}, fmt.Errorf("%w: rate %v: want >= 0", ErrConfig, cfg.Rate)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	size := max(cfg.Batch, 1)
	lim := rate.NewLimiter(rate.Inf, size)
	if cfg.Rate > 0 {
		// Burst of one request's worth: a steady rate, not bursts of a
		// second's worth.
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), size)
	}

	sum := Summary{Total: len(items)}
	var mu sync.Mutex
	report := func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		sum.add(r)
		if cfg.OnResult != nil {
			cfg.OnResult(r)
		}
	}

	// Bad lines are reported up front; the rest go out in chunks of good
	// items, in file order.
	var chunks []chunk
	start := -1
	flush := func(end int) {
		if start >= 0 {
			chunks = append(chunks, chunk{start, end})
			start = -1
		}
	}
	for i, it := range items {
		if it.Err != nil {
			flush(i)
			report(Result{Index: i, Line: it.Line, Err: it.Err})
			continue
		}
		if start < 0 {
			start = i
		}
		if i+1-start == size {
			flush(i + 1)
		}
	}
	flush(len(items))

	work := make(chan chunk)
	var wg sync.WaitGroup
	first := time.Time{}
	var last time.Time
	var tmu sync.Mutex
	stamp := func(s, e time.Time) {
		tmu.Lock()
		defer tmu.Unlock()
		if first.IsZero() || s.Before(first) {
			first = s
		}
		if e.After(last) {
			last = e
		}
	}
	for range cfg.Concurrency {
		wg.Go(func() {
			for c := range work {
				if err := lim.WaitN(ctx, c.to-c.from); err != nil {
					skip(items, c, report)
					continue
				}
				s, e := sendChunk(ctx, cfg, items, c, report)
				stamp(s, e)
			}
		})
	}
	var ctxErr error
	for i, c := range chunks {
		select {
		case work <- c:
			continue
		case <-ctx.Done():
			ctxErr = ctx.Err()
		}
		for _, rest := range chunks[i:] {
			skip(items, rest, report)
		}
		break
	}
	close(work)
	wg.Wait()
	if !first.IsZero() {
		sum.Elapsed = last.Sub(first)
	}
	if ctxErr == nil {
		ctxErr = ctx.Err()
	}
	return sum, ctxErr
}

func skip(items []Item, c chunk, report func(Result)) {
	for i := c.from; i < c.to; i++ {
		report(Result{Index: i, Line: items[i].Line, Err: errSkipped})
	}
}

// sendChunk sends items[c.from:c.to] in one request (single or batch route)
// and reports each item.
func sendChunk(ctx context.Context, cfg SendConfig, items []Item, c chunk, report func(Result)) (start, end time.Time) {
	start = cfg.Now()
	if cfg.Batch == 0 {
		it := items[c.from]
		m, err := cfg.Client.Submit(ctx, it.Req, "")
		end = cfg.Now()
		report(itemResult(c.from, it.Line, start, end, m, err))
		return start, end
	}
	reqs := make([]client.SubmitRequest, 0, c.to-c.from)
	for i := c.from; i < c.to; i++ {
		reqs = append(reqs, items[i].Req)
	}
	res, err := cfg.Client.SubmitBatch(ctx, reqs, "")
	end = cfg.Now()
	for i := c.from; i < c.to; i++ {
		if err != nil {
			// The whole request failed: every item shares its fate.
			report(itemResult(i, items[i].Line, start, end, nil, err))
			continue
		}
		br := res[i-c.from]
		r := Result{Index: i, Line: items[i].Line, Status: br.Status, Problem: br.Problem, Start: start, End: end}
		if br.Message != nil {
			r.MessageID = br.Message.ID
		}
		if !r.Accepted() && r.Problem == nil {
			r.Problem = &client.Problem{Status: br.Status, Detail: "batch item refused without a problem"}
		}
		report(r)
	}
	return start, end
}

func itemResult(i, line int, start, end time.Time, m *client.Message, err error) Result {
	r := Result{Index: i, Line: line, Start: start, End: end}
	var p *client.Problem
	switch {
	case err == nil:
		r.Status, r.MessageID = http.StatusAccepted, m.ID
	case errors.As(err, &p):
		r.Status, r.Problem = p.Status, p
	default:
		r.Err = err
	}
	return r
}
