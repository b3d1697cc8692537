package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

// ErrNotReady is returned by Ping when NATS cannot be reached.
var ErrNotReady = errors.New("bus: nats not reachable")

// Config says where NATS is. The zero value starts an embedded server with
// no TCP listener, storing under the current directory.
type Config struct {
	// URL of an external server or cluster (comma-separated). Empty starts
	// an embedded server in this process.
	URL string
	// Listen is the embedded server's client address (host:port; port 0
	// picks a free one). Empty: no TCP listener, in-process connections only.
	Listen string
	// DataDir holds the embedded server's JetStream file store (DataDir/nats).
	DataDir string
	// Replicas for every stream and bucket created through Stream and KV;
	// 0 means 1. Use 3 on a 3-node cluster.
	Replicas int
	// Name identifies this connection in the server's monitoring.
	Name string
	// Credentials, at most one kind.
	CredsFile, NKeyFile, User, Password, Token string
	// TLS to an external server: CA to trust, client cert/key for mTLS,
	// server name. Zero: plain, unless the URL says tls://.
	TLS    config.TLSFiles
	Logger *slog.Logger
}

// Bus is one NATS connection with JetStream, and the embedded server if
// this process runs it.
type Bus struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	cfg Config
	srv *server.Server
	log *slog.Logger

	closeOnce sync.Once

	pubOnce   sync.Once
	publisher *publisher // see publish.go
}

// Open connects to NATS (starting the embedded server first when cfg.URL is
// empty) and makes sure the events stream exists.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	b := &Bus{cfg: cfg, log: cfg.Logger}
	var opts []nats.Option
	opts = append(opts,
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectBufSize(64<<20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { b.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		// Without a handler these are silent; a slow consumer means the
		// client dropped messages (JetStream redelivers them after their
		// ack wait), which shows up only as latency otherwise.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.log.Warn("nats async error", "subject", subject, "err", err)
		}),
	)
	url := cfg.URL
	if url == "" {
		srv, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
		url = srv.ClientURL()
	} else {
		more, err := clientOptions(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, more...)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("bus: connect %s: %w", redact(url), err)
	}
	b.NC = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	b.JS = js
	if _, err := b.EventsStream(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if _, err := b.CallbacksStream(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func startEmbedded(cfg Config) (*server.Server, error) {
	dir := filepath.Join(cfg.DataDir, "nats")
	if cfg.DataDir == "" {
		dir = "nats"
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: data dir: %w", err)
	}
	opts := &server.Options{
		ServerName: "smsgw-embedded",
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 8 << 20,
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("bus: listen %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("bus: listen %q: bad port", cfg.Listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, p
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("bus: embedded nats did not start within 10s")
	}
	return srv, nil
}

func clientOptions(cfg Config) ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case cfg.CredsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	case cfg.NKeyFile != "":
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("bus: nkey file: %w", err)
		}
		opts = append(opts, o)
	case cfg.User != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.TLS.Set() {
		tc, err := cfg.TLS.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("bus: tls: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

// redact hides credentials embedded in a NATS URL.
func redact(url string) string {
	parts := strings.Split(url, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "[redacted]" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// Server is the embedded server, or nil when connected to an external one.
// Tests use it to stop NATS under a running component.
func (b *Bus) Server() *server.Server { return b.srv }

// ClientURL is where other processes reach this NATS (the embedded server's
// listener, or the configured URL).
func (b *Bus) ClientURL() string {
	if b.srv != nil && b.cfg.Listen != "" {
		return b.srv.ClientURL()
	}
	return b.cfg.URL
}

// Replicas is the replica count applied to streams and buckets.
func (b *Bus) Replicas() int { return b.cfg.Replicas }

// Ping checks that NATS answers within ctx; readiness uses it.
func (b *Bus) Ping(ctx context.Context) error {
	if b.NC == nil || !b.NC.IsConnected() {
		return ErrNotReady
	}
	if _, err := b.JS.AccountInfo(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return nil
}

// Stream creates or updates a stream, applying the bus's replica count.
func (b *Bus) Stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = b.cfg.Replicas
	}
	if cfg.Storage == 0 {
		cfg.Storage = jetstream.FileStorage
	}
	s, err := b.JS.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// KV creates or updates a key-value bucket, applying the replica count.
func (b *Bus) KV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = b.cfg.Replicas
	}
	kv, err := b.JS.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// EventsStream is the stream of every event (events.StreamName): the
// contract's sms.events.<account>.<type> subjects plus the per-endpoint
// sms.direct.<endpoint>.<type> subjects used for replays.
func (b *Bus) EventsStream(ctx context.Context) (jetstream.Stream, error) {
	return b.Stream(ctx, jetstream.StreamConfig{
		Name:       events.StreamName,
		Subjects:   []string{events.StreamSubjects, events.DirectStreamSubjects},
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     30 * 24 * time.Hour,
		Duplicates: EventsDedupeWindow,
	})
}

// CallbacksStream (events.CallbackStream) holds a copy of each event of a
// message with a callback_url, for the bridge's callback worker. It only
// needs to outlive the retry schedule (about three days).
func (b *Bus) CallbacksStream(ctx context.Context) (jetstream.Stream, error) {
	return b.Stream(ctx, jetstream.StreamConfig{
		Name:       events.CallbackStream,
		Subjects:   []string{events.CallbackStreamSubjects},
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     7 * 24 * time.Hour,
		Duplicates: EventsDedupeWindow,
	})
}

// EventsDedupeWindow is how long JetStream remembers an event id to store a
// re-published event once. It covers a redelivery after AckWait (30s) and
// the engine's retry backoff; a re-publish later than that is still the
// same event id (receivers dedupe on webhook-id; delivery is
// at-least-once). JetStream keeps every id of the window in memory
// (~100 B each): at 2,000 events/s, 10 minutes held 1.2 M ids, 2 minutes
// 240 k.
const EventsDedupeWindow = 2 * time.Minute

// PublishEvent stores e under its account's subject and waits for the
// stream's acknowledgement. The event id is the JetStream message id, so a
// retried publish of the same event is stored once.
//
// An event carrying a callback_url (header events.HeaderCallbackURL) is
// stored a second time on events.CallbackSubject, after the first.
func (b *Bus) PublishEvent(ctx context.Context, account string, e events.Event, h nats.Header) (*jetstream.PubAck, error) {
	ack, err := b.publishEvent(ctx, events.Subject(account, e.Type), e, h)
	if err != nil || h.Get(events.HeaderCallbackURL) == "" {
		return ack, err
	}
	if _, err := b.publishEvent(ctx, events.CallbackSubject(account, e.Type), e, h); err != nil {
		return nil, err
	}
	return ack, nil
}

// PublishDirect stores e for one endpoint only (replays): the bridge
// delivers it to that endpoint and no other.
func (b *Bus) PublishDirect(ctx context.Context, endpointID string, e events.Event, h nats.Header) (*jetstream.PubAck, error) {
	if h == nil {
		h = nats.Header{}
	}
	// A replay must be stored again even though the event id was seen.
	h.Set(jetstream.MsgIDHeader, e.ID+"-"+events.NewID())
	return b.publishEvent(ctx, events.DirectSubject(endpointID, e.Type), e, h)
}

func (b *Bus) publishEvent(ctx context.Context, subject string, e events.Event, h nats.Header) (*jetstream.PubAck, error) {
	body, err := e.Marshal()
	if err != nil {
		return nil, fmt.Errorf("bus: encode event: %w", err)
	}
	msg := &nats.Msg{Subject: subject, Data: body, Header: h}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	if msg.Header.Get(jetstream.MsgIDHeader) == "" {
		msg.Header.Set(jetstream.MsgIDHeader, e.ID)
	}
	ack, err := b.Publish(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return ack, nil
}

// Close drains the connection and stops the embedded server; safe twice.
func (b *Bus) Close() error {
	var err error
	b.closeOnce.Do(func() {
		if b.NC != nil {
			if derr := b.NC.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
				err = derr
			}
			deadline := time.Now().Add(5 * time.Second)
			for !b.NC.IsClosed() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			b.NC.Close()
		}
		b.shutdownServer()
	})
	return err
}

func (b *Bus) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
