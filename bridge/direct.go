package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
)

// Events for one endpoint alone (sms.direct.<endpoint id>.<type>: replays)
// have their own durable consumer per endpoint, DirectConsumerName, so the
// endpoint's main consumer keeps a single filter subject. It is made by
// whoever publishes there first (PublishDirect) and found by the bridge
// through JetStream's consumer-created advisory, a listing at start, and
// a listing every conDirectScan (for an advisory missed while
// disconnected). It is deleted with the endpoint's main consumer.
const (
	// conDirectScan is how often the consumers of SMS_EVENTS are listed
	// for direct consumers without a fetch loop.
	conDirectScan = 10 * time.Second
	// conDirectOrphanAge: a direct consumer of an endpoint this bridge
	// does not know as enabled is deleted once it is this old (younger,
	// the endpoint may just not have reached the watch yet).
	conDirectOrphanAge = time.Minute
	// conDirectAckWait and conDirectMaxAckPending are the settings a
	// direct consumer is created with; the endpoint's worker replaces
	// them with its own.
	conDirectAckWait       = 2 * time.Minute
	conDirectMaxAckPending = 1000
)

// PublishDirect stores e for endpointID alone (a replay): the endpoint's
// worker delivers it, with no type filter, and no other endpoint sees it.
// It makes sure the endpoint's direct consumer exists first; use it rather
// than bus.PublishDirect alone, whose event no consumer would take.
func PublishDirect(ctx context.Context, b *bus.Bus, endpointID string, e events.Event, h nats.Header) error {
	if err := EnsureDirectConsumer(ctx, b.JS, endpointID); err != nil {
		return err
	}
	if _, err := b.PublishDirect(ctx, endpointID, e, h); err != nil {
		return fmt.Errorf("bridge: publish for %s: %w", endpointID, err)
	}
	return nil
}

// EnsureDirectConsumer creates endpointID's direct consumer unless it
// exists. It starts after the last event stored when it is called: call it
// before publishing. (An explicit start sequence, not "new": in a cluster,
// a consumer's "new" is fixed when its leader starts, which can be after
// the events published right after the create returned — seen losing the
// first events of a webhook outage.)
func EnsureDirectConsumer(ctx context.Context, js jetstream.JetStream, endpointID string) error {
	name := DirectConsumerName(endpointID)
	_, err := js.Consumer(ctx, events.StreamName, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		var st jetstream.Stream
		if st, err = js.Stream(ctx, events.StreamName); err == nil {
			cfg := directConsumerConfig(endpointID, conDirectAckWait, conDirectMaxAckPending)
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, st.CachedInfo().State.LastSeq+1
			_, err = st.CreateConsumer(ctx, cfg)
			if errors.Is(err, jetstream.ErrConsumerExists) {
				err = nil // made meanwhile, or already updated by a bridge
			}
		}
	}
	if err != nil {
		return fmt.Errorf("bridge: direct consumer %s: %w", name, err)
	}
	return nil
}

// noteDirect records that endpointID has a direct consumer and starts its
// worker's loop on it.
func (b *Bridge) noteDirect(endpointID string) {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return
	}
	b.directSeen[endpointID] = true
	w := b.workers[endpointID]
	b.mu.Unlock()
	if w != nil {
		w.startLoop(conDirect)
	}
}

// directAdvisories are the consumer-created advisories of SMS_EVENTS.
const directAdvisories = "$JS.EVENT.ADVISORY.CONSUMER.CREATED." + events.StreamName + ".*"

// subscribeDirect follows the creation of direct consumers.
func (b *Bridge) subscribeDirect() error {
	sub, err := b.bus.NC.Subscribe(directAdvisories, func(m *nats.Msg) {
		name := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		if id, ok := strings.CutPrefix(name, DirectConsumerPrefix); ok {
			b.noteDirect(id)
		}
	})
	if err != nil {
		return fmt.Errorf("bridge: subscribe %s: %w", directAdvisories, err)
	}
	b.mu.Lock()
	b.directSub = sub
	b.mu.Unlock()
	return nil
}

// listConsumers is the names of SMS_EVENTS's consumers.
func (b *Bridge) listConsumers(ctx context.Context) ([]string, error) {
	l := b.stream.ConsumerNames(ctx)
	var names []string
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("bridge: list consumers: %w", err)
	}
	return names, nil
}

// scanDirect starts the loop of every direct (or, once the shared consumer
// runs, legacy) consumer of a running endpoint that has none, and deletes
// those of endpoints that are gone or disabled.
func (b *Bridge) scanDirect() {
	ctx, cancel := context.WithTimeout(b.runCtx, 10*time.Second)
	defer cancel()
	names, err := b.listConsumers(ctx)
	if err != nil {
		if b.runCtx.Err() == nil {
			b.log.Warn("direct consumers not listed", "err", err)
		}
		return
	}
	for _, n := range names {
		id, direct := strings.CutPrefix(n, DirectConsumerPrefix)
		if !direct {
			var ok bool
			if id, ok = conLegacyID(n); !ok {
				continue
			}
		}
		b.mu.Lock()
		ep, known := b.endpoints[id]
		w := b.workers[id]
		ready := b.sfReady
		b.mu.Unlock()
		switch {
		case w != nil && direct:
			b.noteDirect(id)
			continue
		case w != nil:
			if ready {
				w.startLoop(conLegacy)
			}
			continue
		case known && ep.Enabled:
			continue // its worker is starting
		}
		c, err := b.stream.Consumer(ctx, n)
		if err != nil || (direct && b.now().Sub(c.CachedInfo().Created) < conDirectOrphanAge) {
			continue
		}
		if err := b.stream.DeleteConsumer(ctx, n); err == nil {
			b.log.Info("consumer of a gone or disabled endpoint deleted", "endpoint_id", id, "consumer", n)
		}
	}
}

// conLegacyID is the endpoint id of an earlier version's per-endpoint
// consumer name.
func conLegacyID(name string) (string, bool) {
	id, ok := strings.CutPrefix(name, ConsumerPrefix)
	if !ok || !strings.HasPrefix(id, EndpointIDPrefix) {
		return "", false
	}
	return id, true
}
