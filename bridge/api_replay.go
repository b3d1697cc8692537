package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/httpapi"
)

// MaxReplay is the most events one replay request re-sends; the answer
// says when more remain (ReplayResult.More) and where to continue.
const MaxReplay = 10000

// apiReplayBatch is how many stored messages one fetch reads.
const apiReplayBatch = 256

type apiReplayRequest struct {
	From       *string `json:"from"`
	To         *string `json:"to"`
	DeadLetter bool    `json:"dead_letter"`
}

// ReplayResult is the answer of POST /v1/webhooks/{id}/replay.
type ReplayResult struct {
	// Replayed is how many events were queued again for the endpoint.
	Replayed int `json:"replayed"`
	// More is set when MaxReplay was reached before the end: call again
	// (with from = NextFrom for a time range; dead letters continue where
	// they stopped because replayed ones are removed).
	More     bool         `json:"more,omitempty"`
	NextFrom *events.Time `json:"next_from,omitempty"`
}

func (a *API) replay(w http.ResponseWriter, r *http.Request) {
	account, id := httpapi.Account(r.Context()), r.PathValue("id")
	var req apiReplayRequest
	if p := httpapi.Decode(r, &req); p != nil {
		httpapi.WriteProblem(w, p)
		return
	}
	from, to, p := a.replayRange(req)
	if p != nil {
		httpapi.WriteProblem(w, p)
		return
	}
	ep, err := a.store.GetFor(r.Context(), account, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !ep.Enabled {
		httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusConflict,
			"the endpoint is disabled; enable it (PATCH enabled=true) before replaying to it"))
		return
	}
	// The endpoint's direct consumer must exist before its first event
	// is published (PublishDirect).
	if err := EnsureDirectConsumer(r.Context(), a.bus.JS, ep.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	var res ReplayResult
	if req.DeadLetter {
		res, err = a.replayDeadLetters(r.Context(), ep)
	} else {
		res, err = a.replayRangeEvents(r.Context(), ep, from, to)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("webhook replay", "account", account, "endpoint_id", id, "dead_letter", req.DeadLetter,
		"replayed", res.Replayed, "more", res.More)
	httpapi.WriteJSON(w, http.StatusAccepted, res)
}

// replayRange checks the body: either dead_letter, or from (and optional
// to, default now) as RFC 3339 with from not after to.
func (a *API) replayRange(req apiReplayRequest) (from, to time.Time, p *httpapi.Problem) {
	var fields []httpapi.FieldError
	if req.DeadLetter {
		if req.From != nil || req.To != nil {
			fields = append(fields, httpapi.FieldError{Field: "dead_letter", Message: "replays dead letters; do not combine it with from/to"})
		}
		if len(fields) > 0 {
			return from, to, httpapi.NewProblem(http.StatusBadRequest, "invalid replay request", fields...)
		}
		return from, to, nil
	}
	to = a.now()
	if req.From == nil {
		fields = append(fields, httpapi.FieldError{Field: "from", Message: `is required (an RFC 3339 time), unless "dead_letter": true`})
	} else if t, err := time.Parse(time.RFC3339Nano, *req.From); err != nil {
		fields = append(fields, httpapi.FieldError{Field: "from", Message: "must be an RFC 3339 time such as 2026-11-22T10:00:00Z"})
	} else {
		from = t
	}
	if req.To != nil {
		if t, err := time.Parse(time.RFC3339Nano, *req.To); err != nil {
			fields = append(fields, httpapi.FieldError{Field: "to", Message: "must be an RFC 3339 time such as 2026-11-22T11:00:00Z"})
		} else {
			to = t
		}
	}
	if len(fields) == 0 && from.After(to) {
		fields = append(fields, httpapi.FieldError{Field: "to", Message: "must not be before from"})
	}
	if len(fields) > 0 {
		return from, to, httpapi.NewProblem(http.StatusBadRequest, "invalid replay request", fields...)
	}
	return from, to, nil
}

// replayRangeEvents re-sends, to ep only, the account's events stored from
// from to to that ep subscribes to, oldest first.
func (a *API) replayRangeEvents(ctx context.Context, ep Endpoint, from, to time.Time) (ReplayResult, error) {
	var res ReplayResult
	c, err := a.bus.JS.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectPrefix + ep.Account + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &from,
	})
	if err != nil {
		return res, fmt.Errorf("bridge: replay: %w", err)
	}
	err = apiScan(c, func(m jetstream.Msg, md *jetstream.MsgMetadata) (bool, error) {
		if md.Timestamp.After(to) {
			return true, nil
		}
		e, err := events.Unmarshal(m.Data())
		if err != nil {
			a.log.Warn("replay: skipping undecodable event", "seq", md.Sequence.Stream, "err", err)
			return false, nil
		}
		if !ep.Matches(e.Type) {
			return false, nil
		}
		if res.Replayed >= MaxReplay {
			res.More, res.NextFrom = true, events.At(md.Timestamp)
			return true, nil
		}
		if err := a.publishReplay(ctx, ep, e); err != nil {
			return true, err
		}
		res.Replayed++
		return false, nil
	})
	return res, err
}

// replayDeadLetters re-sends ep's dead letters, oldest first, then removes
// the ones re-sent: if they fail again they come back as new dead letters.
func (a *API) replayDeadLetters(ctx context.Context, ep Endpoint) (ReplayResult, error) {
	var res ReplayResult
	subj := DeadLetterSubject(ep.ID)
	s, err := a.bus.JS.Stream(ctx, DeadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return res, nil // nothing was ever dead-lettered
	}
	if err != nil {
		return res, fmt.Errorf("bridge: replay dead letters: %w", err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		return res, fmt.Errorf("bridge: replay dead letters: %w", err)
	}
	var last uint64
	err = apiScan(c, func(m jetstream.Msg, md *jetstream.MsgMetadata) (bool, error) {
		if res.Replayed >= MaxReplay {
			res.More = true
			return true, nil
		}
		dl, err := DecodeDeadLetter(m.Subject(), m.Headers(), m.Data(), md.Sequence.Stream, md.Timestamp)
		if err != nil {
			a.log.Warn("replay: skipping undecodable dead letter", "seq", md.Sequence.Stream, "err", err)
			last = md.Sequence.Stream
			return false, nil
		}
		if err := a.publishReplay(ctx, ep, dl.Event); err != nil {
			return true, err
		}
		last = md.Sequence.Stream
		res.Replayed++
		return false, nil
	})
	if last > 0 {
		// Remove what was re-sent (even after a later failure): it is in
		// SMS_EVENTS again and would be sent twice by a second replay.
		if perr := s.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(last+1)); perr != nil {
			err = errors.Join(err, fmt.Errorf("bridge: remove replayed dead letters: %w", perr))
		}
	}
	return res, err
}

// publishReplay stores e for ep alone; its id, and so the webhook-id the
// receiver dedupes on, stays the original event's. The caller made sure
// ep's direct consumer exists.
func (a *API) publishReplay(ctx context.Context, ep Endpoint, e events.Event) error {
	h := nats.Header{}
	h.Set(events.HeaderEndpointID, ep.ID)
	if _, err := a.bus.PublishDirect(ctx, ep.ID, e, h); err != nil {
		return fmt.Errorf("bridge: replay %s: %w", e.ID, err)
	}
	return nil
}

// apiScan reads c in batches until nothing is pending, fn asks to stop or
// fn fails. fn returns stop=true to end early.
func apiScan(c jetstream.Consumer, fn func(jetstream.Msg, *jetstream.MsgMetadata) (bool, error)) error {
	for {
		batch, err := c.FetchNoWait(apiReplayBatch)
		if err != nil {
			return fmt.Errorf("bridge: read stream: %w", err)
		}
		n, stop := 0, false
		var fnErr error
		for m := range batch.Messages() {
			if stop {
				continue // drain the batch
			}
			n++
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			if stop, fnErr = fn(m, md); fnErr != nil {
				stop = true
			}
			if md.NumPending == 0 {
				stop = true
			}
		}
		if fnErr != nil {
			return fnErr
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("bridge: read stream: %w", err)
		}
		if stop || n == 0 {
			return nil
		}
	}
}
