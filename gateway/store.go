package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/bus"
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Bus is the NATS connection. Required.
	Bus *bus.Bus
	// AckTimeout bounds how long a write waits for JetStream's
	// acknowledgement before answering ErrUnavailable. Default 5s.
	AckTimeout time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Store keeps message records, idempotency answers and opt-outs in NATS KV
// and queues accepted messages on SubmitStream. Every gateway instance
// opening the same NATS sees the same state. It is safe for concurrent use.
type Store struct {
	b          *bus.Bus
	js         jetstream.JetStream
	messages   jetstream.KeyValue
	idem       jetstream.KeyValue
	optouts    jetstream.KeyValue
	ackTimeout time.Duration
	log        *slog.Logger

	optOnce sync.Once
	oc      *optCache // nil until started (or when it could not be)

	watch connWatch // see whileConnected
}

// SubmitStreamConfig is the configuration of SubmitStream. Whoever creates
// it (the API's store or the engine) uses this, so both agree.
func SubmitStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        SubmitStream,
		Description: "accepted messages waiting to be submitted to an SMSC",
		Subjects:    []string{SubmitSubjects},
		Retention:   jetstream.WorkQueuePolicy,
		// Dedupe window for Nats-Msg-Id = message id: a re-published
		// submission is queued once. Ids are new per accept and Accept
		// publishes each once; only the client's own retry of a publish
		// the server answered "no responders" (not stored: twice, 250 ms
		// apart) re-sends one, within a second. JetStream holds every id
		// of the window in memory (rate × window: 2 minutes were 120,000
		// ids, ~40 MB of RSS, at 1,000 msg/s), so 15 s.
		Duplicates: 15 * time.Second,
	}
}

// MessagesBucketConfig is the configuration of BucketMessages.
func MessagesBucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      BucketMessages,
		Description: "message records by message id",
		History:     1,
		// Records outlive every receipt (messages.id_ttl is at most days);
		// 30 days matches the events stream.
		TTL: 30 * 24 * time.Hour,
	}
}

// OpenStore creates (or updates) the gateway's buckets and the submit stream
// and returns a Store over them.
func OpenStore(ctx context.Context, cfg StoreConfig) (*Store, error) {
	if cfg.Bus == nil {
		return nil, errors.New("gateway: store: Bus is required")
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{b: cfg.Bus, js: cfg.Bus.JS, ackTimeout: cfg.AckTimeout, log: cfg.Logger}
	var err error
	// Final records are written with a per-message TTL and archived in
	// RecordsStream (store_archive.go).
	if s.messages, _, err = openTTLBucket(ctx, cfg.Bus, MessagesBucketConfig()); err != nil {
		return nil, fmt.Errorf("gateway: store: %w", err)
	}
	if _, err = cfg.Bus.Stream(ctx, RecordsStreamConfig()); err != nil {
		return nil, fmt.Errorf("gateway: store: %w", err)
	}
	if s.idem, err = cfg.Bus.KV(ctx, jetstream.KeyValueConfig{
		Bucket: BucketIdempotency, Description: "first answers of submits by account and Idempotency-Key",
		History: 1, TTL: IdempotencyTTL,
	}); err != nil {
		return nil, fmt.Errorf("gateway: store: %w", err)
	}
	if s.optouts, err = cfg.Bus.KV(ctx, jetstream.KeyValueConfig{
		Bucket: BucketOptOuts, Description: "suppression lists: <account>.<number digits>", History: 1,
	}); err != nil {
		return nil, fmt.Errorf("gateway: store: %w", err)
	}
	if _, err = cfg.Bus.Stream(ctx, SubmitStreamConfig()); err != nil {
		return nil, fmt.Errorf("gateway: store: %w", err)
	}
	return s, nil
}

// Messages is the message records bucket (the engine updates records
// through UpdateMessage; direct access is for tests and tools).
func (s *Store) Messages() jetstream.KeyValue { return s.messages }

// storeUnavailable turns a NATS error into ErrUnavailable when it is one
// of connectivity or timeout, so the API can answer 503.
func storeUnavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, bus.ErrNotReady) ||
		errors.Is(err, jetstream.ErrAsyncPublishReplySubjectSet) {
		return fmt.Errorf("gateway: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("gateway: %s: %w", op, err)
}

// connected fails fast when the NATS connection is down, instead of letting
// writes sit in the reconnect buffer until they time out.
func (s *Store) connected() error {
	if s.b.NC == nil || !s.b.NC.IsConnected() {
		return fmt.Errorf("gateway: %w: nats not connected", ErrUnavailable)
	}
	return nil
}

// kvSubject is the subject a KV put of key in bucket is published to.
func kvSubject(bucket, key string) string { return "$KV." + bucket + "." + key }

// Accept durably queues each message (status accepted) on SubmitStream,
// its record inside the queue entry, publishing asynchronously and
// waiting for every acknowledgement. The entry is the record's only copy
// until the engine takes the message and stores the record in
// BucketMessages (one JetStream write per accepted message instead of a
// record put followed by a queue entry; GET finds a queued message in
// SubmitStream, see QueuedMessage). It returns one error per message
// (nil: queued), in order.
func (s *Store) Accept(ctx context.Context, msgs []*Message) []error {
	errs := make([]error, len(msgs))
	if err := s.connected(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	ctx, cancel := context.WithTimeout(ctx, s.ackTimeout)
	defer cancel()
	ctx, stop := s.whileConnected(ctx)
	defer stop()

	futs := make([]*bus.PubFuture, len(msgs))
	for i, m := range msgs {
		record, err := m.MarshalRecord()
		if err != nil {
			errs[i] = err
			continue
		}
		body := appendSubmitRequest(make([]byte, 0, 64+len(record)), m.ID, m.Account, record, 0)
		futs[i], errs[i] = s.b.PublishAsync(&nats.Msg{
			Subject: SubmitEntrySubject(m.Account, m.ID), Data: body,
			Header: nats.Header{jetstream.MsgIDHeader: []string{m.ID}},
		})
		if errs[i] != nil {
			errs[i] = storeUnavailable("queue message", errs[i])
		}
	}
	s.awaitAcks(ctx, "queue message", futs, errs)
	return errs
}

// awaitAcks waits for every future and returns the stream sequence each
// was stored at (0 where it failed); for a KV put that is its revision.
func (s *Store) awaitAcks(ctx context.Context, op string, futs []*bus.PubFuture, errs []error) []uint64 {
	seqs := make([]uint64, len(futs))
	for i, f := range futs {
		if f == nil || errs[i] != nil {
			f.Cancel()
			continue
		}
		a, err := f.Wait(ctx)
		switch {
		case err == nil:
			seqs[i] = a.Sequence
		case ctx.Err() != nil:
			errs[i] = storeUnavailable(op, context.Cause(ctx))
		default:
			errs[i] = storeUnavailable(op, err)
		}
	}
	return seqs
}

// connCheck is how often whileConnected checks the connection.
const connCheck = 50 * time.Millisecond

// whileConnected returns a context that is cancelled (cause
// nats.ErrDisconnected) as soon as the NATS connection is seen down. A
// request or publish written just before a drop the client had not noticed
// yet (so connected passed) is never answered: the server that got it is
// gone. Without this, the caller would wait a whole timeout (5 s) for it
// instead of answering 503 at once. One watcher per Store checks the
// connection every connCheck while any such context is live (a goroutine
// and a ticker per request cost more than the rest of a lookup).
func (s *Store) whileConnected(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	id := s.watch.add(cancel, s.isConnected)
	return ctx, func() {
		s.watch.remove(id)
		cancel(nil)
	}
}

func (s *Store) isConnected() bool { return s.b.NC != nil && s.b.NC.IsConnected() }

// connWatch cancels the registered contexts when the connection is down;
// its goroutine runs only while some are registered.
type connWatch struct {
	mu      sync.Mutex
	next    uint64
	cancels map[uint64]context.CancelCauseFunc
	running bool
}

func (w *connWatch) add(cancel context.CancelCauseFunc, up func() bool) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancels == nil {
		w.cancels = map[uint64]context.CancelCauseFunc{}
	}
	w.next++
	w.cancels[w.next] = cancel
	if !w.running {
		w.running = true
		go w.loop(up)
	}
	return w.next
}

func (w *connWatch) remove(id uint64) {
	w.mu.Lock()
	delete(w.cancels, id)
	w.mu.Unlock()
}

func (w *connWatch) loop(up func() bool) {
	t := time.NewTicker(connCheck)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		if len(w.cancels) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		if !up() {
			for id, cancel := range w.cancels {
				cancel(nats.ErrDisconnected)
				delete(w.cancels, id)
			}
		}
		w.mu.Unlock()
	}
}

// dropped returns the disconnection that cancelled ctx (see
// whileConnected) in place of err, so it maps to ErrUnavailable.
func dropped(ctx context.Context, err error) error {
	if c := context.Cause(ctx); err != nil && errors.Is(c, nats.ErrDisconnected) {
		return c
	}
	return err
}

// Message returns the record of id. Records of other accounts are the
// caller's business (the API compares Account and answers 404). A record
// that left BucketMessages after it became final (messages.final_record_ttl)
// is read from RecordsStream: same record, revision 0 (it can no longer be
// updated).
func (s *Store) Message(ctx context.Context, id string) (*Message, uint64, error) {
	if !validKeyToken(id) {
		return nil, 0, ErrNotFound
	}
	if err := s.connected(); err != nil {
		return nil, 0, err
	}
	ctx, stop := s.whileConnected(ctx)
	defer stop()
	e, err := s.messages.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		actx, cancel := context.WithTimeout(ctx, s.ackTimeout)
		defer cancel()
		m, err := archivedMessage(actx, s.b.NC, id, s.log)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, 0, storeUnavailable("get archived message", dropped(ctx, err))
		}
		return m, 0, err
	}
	if err != nil {
		return nil, 0, storeUnavailable("get message", dropped(ctx, err))
	}
	m, err := UnmarshalMessage(e.Value())
	if err != nil {
		return nil, 0, err
	}
	return m, e.Revision(), nil
}

// QueuedMessage returns the record of id as queued on SubmitStream by
// Accept, while the engine has not stored it in BucketMessages yet (ask
// Message first, and again after a miss here: the engine stores the record
// before it removes the entry). account is the caller's: another account's
// message is not found.
func (s *Store) QueuedMessage(ctx context.Context, account, id string) (*Message, error) {
	if !validKeyToken(id) || !validKeyToken(account) {
		return nil, ErrNotFound
	}
	if err := s.connected(); err != nil {
		return nil, err
	}
	ctx, stop := s.whileConnected(ctx)
	defer stop()
	stream, err := s.js.Stream(ctx, SubmitStream)
	if err != nil {
		return nil, storeUnavailable("get queued message", dropped(ctx, err))
	}
	raw, err := stream.GetLastMsgForSubject(ctx, SubmitEntrySubject(account, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, storeUnavailable("get queued message", dropped(ctx, err))
	}
	e, err := decodeSubmitEntry(raw.Data)
	if err != nil || e.Record == nil || e.Record.ID != id {
		return nil, ErrNotFound // not an entry of this version: its record is in KV
	}
	return e.Record, nil
}

// findMessage is Message, then (for account) QueuedMessage, then Message
// again: a message is always in one of them, and the engine stores the
// record before the queue entry goes. rev 0: not in BucketMessages.
func (s *Store) findMessage(ctx context.Context, account, id string) (*Message, uint64, error) {
	m, rev, err := s.Message(ctx, id)
	if !errors.Is(err, ErrNotFound) {
		return m, rev, err
	}
	if m, err := s.QueuedMessage(ctx, account, id); !errors.Is(err, ErrNotFound) {
		return m, 0, err
	}
	return s.Message(ctx, id)
}

// UpdateMessage applies fn to the current record of id and writes it back
// with optimistic concurrency, re-reading and re-applying fn when another
// writer got there first. fn must be deterministic over its input (it may
// run several times). An error from fn aborts the update and is returned.
// A message still queued (see QueuedMessage) of account has its record
// created.
func (s *Store) UpdateMessage(ctx context.Context, account, id string, fn func(*Message) error) (*Message, error) {
	for attempt := 0; ; attempt++ {
		m, rev, err := s.findMessage(ctx, account, id)
		if err != nil {
			return nil, err
		}
		if err := fn(m); err != nil {
			return nil, err
		}
		body, err := m.MarshalRecord()
		if err != nil {
			return nil, err
		}
		_, err = s.b.KVUpdate(ctx, BucketMessages, id, body, rev) // rev 0: create
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) || attempt >= 100 {
			return nil, storeUnavailable("update message", err)
		}
		// Conflict: someone else wrote first; read again and re-apply.
		if err := ctx.Err(); err != nil {
			return nil, storeUnavailable("update message", err)
		}
	}
}

// validKeyToken reports whether s can be used as one token of a KV key
// (ids come from URLs: anything else cannot exist).
func validKeyToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// storeIdemKey is the KV key of an Idempotency-Key: the key is hashed so
// any client string (spaces, dots, unicode) fits a NATS subject token.
func storeIdemKey(account, scope, key string) string {
	h := sha256.Sum256([]byte(scope + "\x00" + key))
	return account + "." + hex.EncodeToString(h[:16])
}

// IdempotentAnswer is a remembered answer to a submit.
type IdempotentAnswer struct {
	// Pending is set while the first request is still being processed.
	Pending   bool            `json:"pending,omitempty"`
	Status    int             `json:"status,omitempty"`
	Body      json.RawMessage `json:"body,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// storeIdemStale is how long a pending reservation may live before another
// request takes it over (its holder crashed).
const storeIdemStale = 30 * time.Second

// IdemReservation is the right to process a request with an
// Idempotency-Key; Finish or Release it.
type IdemReservation struct {
	s   *Store
	key string
	rev uint64
}

// ReserveIdempotency looks key up for account and scope (the route). When
// a finished answer is stored it returns it (and no reservation); when
// another request holds the key it returns ErrIdempotencyInProgress;
// otherwise it reserves the key for this request.
func (s *Store) ReserveIdempotency(ctx context.Context, account, scope, key string) (*IdempotentAnswer, *IdemReservation, error) {
	if err := s.connected(); err != nil {
		return nil, nil, err
	}
	k := storeIdemKey(account, scope, key)
	pending, _ := json.Marshal(IdempotentAnswer{Pending: true, CreatedAt: time.Now()})
	for range 5 {
		rev, err := s.idem.Create(ctx, k, pending)
		if err == nil {
			return nil, &IdemReservation{s: s, key: k, rev: rev}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, nil, storeUnavailable("idempotency reserve", err)
		}
		e, err := s.idem.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired or released between our Create and Get
		}
		if err != nil {
			return nil, nil, storeUnavailable("idempotency get", err)
		}
		var a IdempotentAnswer
		if err := json.Unmarshal(e.Value(), &a); err != nil || (a.Pending && time.Since(a.CreatedAt) > storeIdemStale) {
			// Corrupt or abandoned: take it over at its revision.
			rev, uerr := s.idem.Update(ctx, k, pending, e.Revision())
			if uerr == nil {
				return nil, &IdemReservation{s: s, key: k, rev: rev}, nil
			}
			continue
		}
		if a.Pending {
			return nil, nil, ErrIdempotencyInProgress
		}
		return &a, nil, nil
	}
	return nil, nil, ErrIdempotencyInProgress
}

// Finish stores the answer for later retries.
func (r *IdemReservation) Finish(ctx context.Context, status int, body []byte) error {
	v, _ := json.Marshal(IdempotentAnswer{Status: status, Body: body, CreatedAt: time.Now()})
	if _, err := r.s.idem.Update(ctx, r.key, v, r.rev); err != nil {
		return storeUnavailable("idempotency finish", err)
	}
	return nil
}

// Release drops the reservation so a retry with the same key is processed
// afresh (used when the request was refused: nothing was accepted).
func (r *IdemReservation) Release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := r.s.idem.Delete(ctx, r.key, jetstream.LastRevision(r.rev)); err != nil {
		r.s.log.Debug("idempotency release failed", "err", err)
	}
}
