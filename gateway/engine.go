package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/smpp"
)

// NATS names owned by the engine (docs/GATEWAY.md). SMS_SUBMIT,
// sms_messages and sms_optouts are declared in message.go.
const (
	// InboundStream holds every deliver_sm the engine acknowledged, until
	// the inbound consumer has processed it (work queue).
	InboundStream = "SMS_INBOUND"
	// InboundSubjects is what InboundStream captures.
	InboundSubjects = "sms.inbound.>"
	// InboundConsumer is the durable pull consumer shared by all instances.
	InboundConsumer = "gateway-inbound"
	// UnmatchedStream keeps receipts whose id never matched a message.
	UnmatchedStream = "SMS_UNMATCHED"
	// UnmatchedSubjects is what UnmatchedStream captures.
	UnmatchedSubjects = "sms.unmatched.>"
	// BucketSMSCIDs maps "<smsc>.<IDKey(smsc message id)>" to
	// "<message id>/<part index>" for receipt correlation.
	BucketSMSCIDs = "sms_smsc_ids"
	// BucketLastSent maps "<account>.<destination digits>" to the id of the
	// last message the account sent there (in_reply_to).
	BucketLastSent = "sms_last_sent"
	// BucketMOParts holds the parts of concatenated inbound messages until
	// all have arrived.
	BucketMOParts = "sms_mo_parts"
)

// InboundReceiptSubject is where receipts from smsc are stored.
func InboundReceiptSubject(smsc string) string { return "sms.inbound.receipt." + smsc }

// InboundMOSubject is where mobile-originated parts from smsc are stored.
func InboundMOSubject(smsc string) string { return "sms.inbound.mo." + smsc }

// UnmatchedSubject is where unmatched receipts from smsc are kept.
func UnmatchedSubject(smsc string) string { return "sms.unmatched." + smsc }

// EngineSMSC is what the engine needs of an SMSC client; *smpp.SMSC is one.
// Tests may supply their own through EngineConfig.SMSCFactory.
type EngineSMSC interface {
	Name() string
	Start(ctx context.Context) error
	Submit(ctx context.Context, m smpp.Message) (smpp.Result, error)
	Bound() bool
	Binds() []smpp.BindState
	Close(ctx context.Context) error
}

var (
	_ EngineSMSC  = (*smpp.SMSC)(nil)
	_ OptOutStore = (*Store)(nil)
)

// OptOutStore is the account suppression list the engine updates on
// STOP/START keywords (numbers are +E.164); *Store is one. Remove of a
// number not on the list returns an error wrapping ErrNotFound.
type OptOutStore interface {
	Add(ctx context.Context, account, number, keyword string) error
	Remove(ctx context.Context, account, number string) error
}

// EngineConfig configures NewEngine. Zero durations and counts take the
// documented defaults.
type EngineConfig struct {
	// Bus is the NATS connection; required. The engine does not close it.
	Bus *bus.Bus
	// Config is smsgw's configuration; the engine reads SMSCs, Routes,
	// Messages, Inbound and Accounts.
	Config config.Config
	// Logger receives bind changes and problems; nil discards.
	Logger *slog.Logger
	// Registry receives the engine's metrics; nil registers nowhere.
	Registry prometheus.Registerer
	// SMSCFactory builds an SMSC client from its smpp.Config; nil uses
	// smpp.New.
	SMSCFactory func(smpp.Config) (EngineSMSC, error)
	// OptOuts is the suppression list; nil opens the HTTP API's Store on
	// Bus.
	OptOuts OptOutStore

	// AckWait is how long a taken submission or inbound item stays
	// invisible to other instances before JetStream redelivers it (an
	// instance that died mid-work). Default 30s.
	AckWait time.Duration
	// SubmitRetryMin and SubmitRetryMax bound the exponential backoff
	// (±20 % jitter) between submit attempts after a temporary error.
	// Defaults 1s and 60s.
	SubmitRetryMin, SubmitRetryMax time.Duration
	// SubmitTimeout bounds one submit of all parts of a message. Default
	// 60s.
	SubmitTimeout time.Duration
	// ReceiptMatchTimeout is how long a receipt whose id matches no part
	// (it may have overtaken its submit_sm_resp) is retried before it is
	// kept in SMS_UNMATCHED. Default 10m.
	ReceiptMatchTimeout time.Duration
	// ReceiptRetryMin and ReceiptRetryMax bound the backoff between those
	// retries. Defaults 100ms and 30s.
	ReceiptRetryMin, ReceiptRetryMax time.Duration
	// InboundWorkers is how many inbound items (receipts, MO parts) are
	// processed at once per instance. Default messages.submit_workers.
	InboundWorkers int
	// PublishTimeout bounds the JetStream store of a deliver_sm before it
	// is answered ESME_RX_T_APPN. Default 5s.
	PublishTimeout time.Duration
	// FetchWait is the longest one pull request waits for work; it also
	// bounds how long Close waits for the fetch loops. Default 500ms.
	FetchWait time.Duration
	// SMSCHandlerWorkers is passed to every smpp.Config (deliver_sm
	// handled at once per bind); 0 keeps the smpp default.
	SMSCHandlerWorkers int
	// CacheSize bounds the local caches of recently written records and
	// filed SMSC ids (hints that save KV reads; KV stays the truth).
	// Default 65536 each.
	CacheSize int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (c *EngineConfig) defaults() error {
	var errs []error
	if c.Bus == nil {
		errs = append(errs, fmt.Errorf("%w: bus is required", ErrBadEngineConfig))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setDur(&c.AckWait, 30*time.Second)
	setDur(&c.SubmitRetryMin, time.Second)
	setDur(&c.SubmitRetryMax, 60*time.Second)
	setDur(&c.SubmitTimeout, 60*time.Second)
	setDur(&c.ReceiptMatchTimeout, 10*time.Minute)
	setDur(&c.ReceiptRetryMin, 100*time.Millisecond)
	setDur(&c.ReceiptRetryMax, 30*time.Second)
	setDur(&c.PublishTimeout, 5*time.Second)
	setDur(&c.FetchWait, 500*time.Millisecond)
	m := &c.Config.Messages
	if m.SubmitWorkers <= 0 {
		m.SubmitWorkers = 64
	}
	if m.SubmitAttempts <= 0 {
		m.SubmitAttempts = 5
	}
	setDur(&m.IDTTL, 72*time.Hour)
	setDur(&m.FinalRecordTTL, time.Minute)
	in := &c.Config.Inbound
	setDur(&in.ReplyWindow, 168*time.Hour)
	setDur(&in.ReassemblyTimeout, 24*time.Hour)
	if c.InboundWorkers <= 0 {
		c.InboundWorkers = m.SubmitWorkers
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CacheSize <= 0 {
		c.CacheSize = 1 << 16
	}
	names := map[string]bool{}
	for i, s := range c.Config.SMSCs {
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("%w: smscs[%d]: name is required", ErrBadEngineConfig, i))
		} else if names[s.Name] {
			errs = append(errs, fmt.Errorf("%w: smscs[%d]: name %q used twice", ErrBadEngineConfig, i, s.Name))
		}
		names[s.Name] = true
	}
	for i, r := range c.Config.Routes {
		for _, n := range r.SMSCs {
			if !names[n] {
				errs = append(errs, fmt.Errorf("%w: routes[%d]: unknown smsc %q", ErrBadEngineConfig, i, n))
			}
		}
	}
	return errors.Join(errs...)
}

// Engine is the gateway's SMPP side: it submits queued messages, correlates
// receipts, reassembles inbound messages and publishes every event to
// JetStream. Many engines (in many processes) may share one NATS: the work
// queues split the work between them.
type Engine struct {
	cfg    EngineConfig
	log    *slog.Logger
	b      *bus.Bus
	m      *engMetrics
	routes *routeTable
	now    func() time.Time

	smscs     map[string]EngineSMSC
	smscOrder []string
	idFormat  map[string]smpp.IDFormat
	errorMap  map[string][]config.ErrorRule
	accounts  map[string]string // normalised address → account id
	stopKW    map[string]bool   // upper-cased
	startKW   map[string]bool

	kvMsgs, kvIDs, kvLast, kvMO jetstream.KeyValue
	optouts                     OptOutStore
	recCache                    *engCache[engCachedRecord]
	idCache                     *engCache[string]
	idWait                      idWaiters // receipts waiting for an id this instance is learning
	pendingSent                 sync.Map  // message id → chan closed once its sent record is written
	fin                         engFinal  // how final records leave the hot buckets (engine_ttl.go)
	submitCons, inboundCons     jetstream.Consumer

	mu       sync.Mutex
	started  bool
	closed   bool
	running  atomic.Bool
	stopping atomic.Bool

	runCtx    context.Context
	runCancel context.CancelFunc
	loops     sync.WaitGroup // fetch loops and their handlers
	monitor   sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	closeDone chan struct{}
}

// NewEngine checks cfg and builds the SMSC clients (not yet connected: see
// Start).
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m, err := newEngMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:       cfg,
		log:       cfg.Logger,
		b:         cfg.Bus,
		m:         m,
		now:       cfg.Now,
		routes:    newRouteTable(cfg.Config.Routes, cfg.Config.SMSCs),
		smscs:     map[string]EngineSMSC{},
		idFormat:  map[string]smpp.IDFormat{},
		errorMap:  map[string][]config.ErrorRule{},
		accounts:  map[string]string{},
		stopKW:    map[string]bool{},
		startKW:   map[string]bool{},
		closeDone: make(chan struct{}),
		optouts:   cfg.OptOuts,
		recCache:  newEngCache[engCachedRecord](cfg.CacheSize),
		idCache:   newEngCache[string](cfg.CacheSize),
	}
	for _, a := range cfg.Config.Accounts {
		if a.Sender != "" {
			e.accounts[moAddrKey(a.Sender)] = a.ID
		}
		for _, n := range a.Numbers {
			e.accounts[moAddrKey(n)] = a.ID
		}
	}
	for _, k := range cfg.Config.Inbound.StopKeywords {
		e.stopKW[strings.ToUpper(strings.TrimSpace(k))] = true
	}
	for _, k := range cfg.Config.Inbound.StartKeywords {
		e.startKW[strings.ToUpper(strings.TrimSpace(k))] = true
	}
	factory := cfg.SMSCFactory
	if factory == nil {
		factory = func(c smpp.Config) (EngineSMSC, error) { return smpp.New(c) }
	}
	var errs []error
	for _, sc := range cfg.Config.SMSCs {
		pc, err := e.smppConfig(sc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s, err := factory(pc)
		if err != nil {
			errs = append(errs, fmt.Errorf("gateway: smsc %s: %w", sc.Name, err))
			continue
		}
		e.smscs[sc.Name] = s
		e.smscOrder = append(e.smscOrder, sc.Name)
		e.idFormat[sc.Name] = pc.ReceiptIDFormat
		e.errorMap[sc.Name] = sc.ErrorMap
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := e.registerOpsMetrics(cfg.Registry); err != nil {
		return nil, err
	}
	return e, nil
}

// smppConfig turns an smscs[] entry into the smpp client's config.
func (e *Engine) smppConfig(sc config.SMSC) (smpp.Config, error) {
	pc := smpp.Config{
		Name: sc.Name, Addr: sc.Addr, SystemID: sc.SystemID, Password: sc.Password,
		SystemType: sc.SystemType, Bind: smpp.BindMode(sc.Bind), Binds: sc.Binds,
		TPS: sc.TPS, Window: sc.Window, EnquireLink: sc.EnquireLink,
		ResponseTimeout: sc.ResponseTimeout, ReconnectMin: sc.ReconnectMin, ReconnectMax: sc.ReconnectMax,
		Encoding: smpp.Encoding(sc.Encoding), Concat: smpp.ConcatMode(sc.Concat),
		ReceiptIDFormat: smpp.IDFormat(sc.ReceiptIDFormat),
		HandlerWorkers:  e.cfg.SMSCHandlerWorkers,
		Handler:         e.deliverHandler(sc.Name),
		Logger:          e.log,
	}
	if pc.Encoding == "" {
		pc.Encoding = smpp.EncodingAuto
	}
	if pc.ReceiptIDFormat == "" {
		pc.ReceiptIDFormat = smpp.IDAuto
	}
	var err error
	if pc.SourceTON, err = engUint8(sc.SourceTON, sc.Name, "source_ton"); err != nil {
		return pc, err
	}
	if pc.SourceNPI, err = engUint8(sc.SourceNPI, sc.Name, "source_npi"); err != nil {
		return pc, err
	}
	if pc.DestTON, err = engUint8(sc.DestTON, sc.Name, "dest_ton"); err != nil {
		return pc, err
	}
	if pc.DestNPI, err = engUint8(sc.DestNPI, sc.Name, "dest_npi"); err != nil {
		return pc, err
	}
	if sc.TLS.Enabled {
		tc, err := sc.TLS.ClientConfig()
		if err != nil {
			return pc, fmt.Errorf("gateway: smsc %s: tls: %w", sc.Name, err)
		}
		pc.TLS = tc
	}
	return pc, nil
}

func engUint8(v *int, smsc, key string) (*uint8, error) {
	if v == nil {
		return nil, nil
	}
	if *v < 0 || *v > 255 {
		return nil, fmt.Errorf("%w: smsc %s: %s %d out of range", ErrBadEngineConfig, smsc, key, *v)
	}
	u := uint8(*v)
	return &u, nil
}

// Start creates the engine's streams, buckets and consumers (idempotently),
// starts the SMSC binds and the submit and inbound workers, and returns.
// ctx bounds the setup only: the engine runs until Close, so that a process
// whose signal context ends can still drain it gracefully with Close.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.closed {
		return ErrEngineClosed
	}
	e.started = true
	if err := e.setupNATS(ctx); err != nil {
		return err
	}
	if e.optouts == nil {
		st, err := OpenStore(ctx, StoreConfig{Bus: e.b, Logger: e.log})
		if err != nil {
			return err
		}
		e.optouts = st
	}
	e.runCtx, e.runCancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, name := range e.smscOrder {
		if err := e.smscs[name].Start(e.runCtx); err != nil {
			e.runCancel()
			return fmt.Errorf("gateway: start smsc %s: %w", name, err)
		}
	}
	e.running.Store(true)
	e.monitor.Add(1)
	go func() {
		defer e.monitor.Done()
		e.watchBinds(e.runCtx)
	}()
	e.loops.Add(2)
	go func() {
		defer e.loops.Done()
		e.fetchLoop(e.submitCons, e.cfg.Config.Messages.SubmitWorkers, e.anyBound, e.handleSubmit)
	}()
	go func() {
		defer e.loops.Done()
		e.fetchLoop(e.inboundCons, e.cfg.InboundWorkers, nil, e.handleInbound)
	}()
	e.log.Info("gateway engine started", "smscs", len(e.smscs),
		"submit_workers", e.cfg.Config.Messages.SubmitWorkers, "inbound_workers", e.cfg.InboundWorkers)
	return nil
}

// setupNATS makes sure every stream, bucket and consumer the engine uses
// exists. Those shared with the HTTP API are opened if they exist and
// created with the same settings otherwise.
func (e *Engine) setupNATS(ctx context.Context) error {
	var err error
	submit, err := engOpenStream(ctx, e.b, SubmitStreamConfig())
	if err != nil {
		return err
	}
	inbound, err := engOpenStream(ctx, e.b, jetstream.StreamConfig{
		Name: InboundStream, Subjects: []string{InboundSubjects},
		Retention: jetstream.WorkQueuePolicy,
	})
	if err != nil {
		return err
	}
	if _, err = engOpenStream(ctx, e.b, jetstream.StreamConfig{
		Name: UnmatchedStream, Subjects: []string{UnmatchedSubjects},
		Retention: jetstream.LimitsPolicy, MaxAge: 30 * 24 * time.Hour,
	}); err != nil {
		return err
	}
	if e.kvMsgs, err = engOpenKV(ctx, e.b, MessagesBucketConfig()); err != nil {
		return err
	}
	if e.kvIDs, err = engOpenKV(ctx, e.b, jetstream.KeyValueConfig{Bucket: BucketSMSCIDs, History: 1, TTL: e.cfg.Config.Messages.IDTTL}); err != nil {
		return err
	}
	if e.kvLast, err = engOpenKV(ctx, e.b, jetstream.KeyValueConfig{Bucket: BucketLastSent, History: 1, TTL: e.cfg.Config.Inbound.ReplyWindow}); err != nil {
		return err
	}
	if e.kvMO, err = engOpenKV(ctx, e.b, jetstream.KeyValueConfig{Bucket: BucketMOParts, History: 1, TTL: e.cfg.Config.Inbound.ReassemblyTimeout}); err != nil {
		return err
	}
	if err = e.setupFinal(ctx); err != nil {
		return err
	}
	consumer := func(s jetstream.Stream, name string) (jetstream.Consumer, error) {
		c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       name,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       e.cfg.AckWait,
			MaxAckPending: 100_000,
			MaxWaiting:    4096,
			Replicas:      0,
		})
		if err != nil {
			return nil, fmt.Errorf("gateway: consumer %s: %w", name, err)
		}
		return c, nil
	}
	if e.submitCons, err = consumer(submit, SubmitConsumer); err != nil {
		return err
	}
	if e.inboundCons, err = consumer(inbound, InboundConsumer); err != nil {
		return err
	}
	return nil
}

// engOpenStream opens a stream if it exists (whoever created it) and creates
// it otherwise, so two components sharing a stream never fight over its
// settings.
func engOpenStream(ctx context.Context, b *bus.Bus, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := b.JS.Stream(ctx, cfg.Name)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("gateway: stream %s: %w", cfg.Name, err)
	}
	return b.Stream(ctx, cfg)
}

// engOpenKV is engOpenStream for buckets.
func engOpenKV(ctx context.Context, b *bus.Bus, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := b.JS.KeyValue(ctx, cfg.Bucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("gateway: bucket %s: %w", cfg.Bucket, err)
	}
	return b.KV(ctx, cfg)
}

// anyBound reports whether some SMSC can take a submit now.
func (e *Engine) anyBound() bool {
	for _, s := range e.smscs {
		if s.Bound() {
			return true
		}
	}
	return false
}

// fetchLoop pulls work in batches no larger than the free worker slots, so
// nothing waits in a local buffer while its ack timer runs, and runs handle
// for each message on a bounded set of goroutines. It stops taking work
// when the engine stops; handlers in flight finish (graceful) or see their
// context cancelled (hard stop). gate, when set, pauses pulling while it
// is false (no SMSC bound: messages stay queued instead of burning
// attempts).
func (e *Engine) fetchLoop(cons jetstream.Consumer, workers int, gate func() bool, handle func(context.Context, jetstream.Msg)) {
	slots := make(chan struct{}, workers)
	ctx := e.runCtx
	// A fixed pool of handlers, not a goroutine per message: a new
	// goroutine grows its stack again for every message (JSON, NATS
	// requests), which cost about 1 % of the CPU per message.
	work := make(chan jetstream.Msg)
	var inflight sync.WaitGroup
	for range workers {
		inflight.Go(func() {
			for msg := range work {
				handle(ctx, msg)
				<-slots
			}
		})
	}
	defer inflight.Wait()
	defer close(work)
	backoff := 50 * time.Millisecond
	for !e.stopping.Load() && ctx.Err() == nil {
		if gate != nil && !gate() {
			if !engSleep(ctx, 50*time.Millisecond) {
				return
			}
			continue
		}
		// Take one free slot (waiting), then every other free one.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	grab:
		for n < workers {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break grab
			}
		}
		// FetchMaxWait, not a context deadline: the server ends the pull
		// at FetchWait and the client listens a second longer. With a
		// context the client stopped listening only 10 % after the server's
		// expiry, and under load an item the server sent just before it was
		// dropped unacked, waiting AckWait (30s) for redelivery.
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(e.cfg.FetchWait))
		if err != nil {
			for range n {
				<-slots
			}
			if ctx.Err() != nil {
				return
			}
			e.log.Warn("gateway fetch failed", "err", err)
			if !engSleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		used := 0
		for msg := range batch.Messages() {
			used++
			work <- msg // a worker is free: this message holds a slot
		}
		for range n - used {
			<-slots
		}
	}
}

func engSleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// watchBinds logs bind changes and keeps smsgw_smpp_binds_up current.
func (e *Engine) watchBinds(ctx context.Context) {
	last := map[string]string{}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		for _, name := range e.smscOrder {
			up := 0
			for _, bs := range e.smscs[name].Binds() {
				if bs.State == "bound" {
					up++
				}
				if prev, ok := last[bs.ID]; !ok || prev != bs.State {
					last[bs.ID] = bs.State
					if ok || bs.State != "connecting" {
						// smpp logs each change at info; this is the engine's view.
						e.log.Debug("smpp bind state", "smsc", name, "bind", bs.ID, "state", bs.State, "last_error", bs.LastError)
					}
				}
			}
			e.m.bindsUp.WithLabelValues(name).Set(float64(up))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Ready is nil when the engine runs and at least one bind of any SMSC is
// up; otherwise an error (wrapping ErrEngineNotReady) says why.
func (e *Engine) Ready() error {
	if !e.running.Load() || e.stopping.Load() {
		return fmt.Errorf("%w: not running", ErrEngineNotReady)
	}
	if len(e.smscs) == 0 {
		return fmt.Errorf("%w: no smsc configured", ErrEngineNotReady)
	}
	if e.anyBound() {
		return nil
	}
	var why []string
	for _, name := range e.smscOrder {
		for _, bs := range e.smscs[name].Binds() {
			s := bs.ID + " " + bs.State
			if bs.LastError != "" {
				s += " (" + bs.LastError + ")"
			}
			why = append(why, s)
		}
	}
	return fmt.Errorf("%w: no smsc bound: %s", ErrEngineNotReady, strings.Join(why, "; "))
}

// Binds returns every SMSC's bind states, by SMSC name.
func (e *Engine) Binds() map[string][]smpp.BindState {
	out := make(map[string][]smpp.BindState, len(e.smscs))
	for name, s := range e.smscs {
		bs := s.Binds()
		sort.Slice(bs, func(i, j int) bool { return bs[i].ID < bs[j].ID })
		out[name] = bs
	}
	return out
}

// Close stops taking work, lets submits and inbound items in progress
// finish, unbinds every SMSC and waits. When ctx ends first the rest is cut
// short: work in progress is abandoned unacknowledged (JetStream redelivers
// it after AckWait) and connections are closed at once; Close then returns
// ctx's error. It is safe to call more than once; the caller closes NATS
// afterwards.
func (e *Engine) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		defer close(e.closeDone)
		e.mu.Lock()
		e.closed = true
		started := e.started && e.runCtx != nil
		e.mu.Unlock()
		if !started {
			return
		}
		e.stopping.Store(true)
		stop := context.AfterFunc(ctx, e.runCancel) // deadline: abandon work
		defer stop()
		loopsDone := make(chan struct{})
		go func() {
			e.loops.Wait()
			close(loopsDone)
		}()
		select {
		case <-loopsDone:
		case <-ctx.Done():
			<-loopsDone // handlers return promptly once runCtx is cancelled
		}
		var errs []error
		for _, name := range e.smscOrder {
			if err := e.smscs[name].Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		e.running.Store(false)
		e.runCancel()
		e.monitor.Wait()
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("gateway: engine close: %w", ctx.Err()))
		}
		e.closeErr = errors.Join(errs...)
		e.log.Info("gateway engine stopped")
	})
	<-e.closeDone
	return e.closeErr
}
