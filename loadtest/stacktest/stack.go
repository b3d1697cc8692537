// Package stacktest starts a whole smsgw in the calling process for tests
// of the CLI, the client and the load generator: embedded NATS with
// JetStream in a temp dir, the SMSC simulator on 127.0.0.1:0, the gateway
// (HTTP API, store, SMPP engine) and the bridge (endpoint routes and
// delivery workers), with the HTTP API on 127.0.0.1:0. It is shaped like
// net/http/httptest: Start, URL, Close.
//
// It wires the same packages `smsgw serve` does, with short retry timings
// and loopback webhook targets allowed, so tests see the real pipeline.
package stacktest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsgw/smsgw/bridge"
	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/gateway"
	"github.com/smsgw/smsgw/httpapi"
	"github.com/smsgw/smsgw/simulator"
)

// Account and key of the stack's one account.
const (
	Account = "acme"
	APIKey  = "stacktest-key"
	Sender  = "ACME"
)

// Config configures Start; the zero value is a working stack.
type Config struct {
	// DataDir holds the JetStream store; empty makes (and removes) a temp
	// dir.
	DataDir string
	// NATSListen, when set (e.g. "127.0.0.1:0"), gives the embedded NATS a
	// TCP listener (Stack.NATSURL) for out-of-process clients.
	NATSListen string
	// Sim configures the simulator (Addr is forced to 127.0.0.1:0).
	Sim simulator.Config
	// Conf edits the config before anything starts.
	Conf func(*config.Config)
	// Logger; nil discards.
	Logger *slog.Logger
}

// Stack is a running in-process smsgw.
type Stack struct {
	URL     string // http://127.0.0.1:port of the API
	NATSURL string // set when Config.NATSListen was
	Bus     *bus.Bus
	Sim     *simulator.Server
	Config  config.Config

	tmp    string
	srv    *gateway.Server
	eng    *gateway.Engine
	br     *bridge.Bridge
	cancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

// Start brings the stack up and waits until the SMSC bind is up.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Stack{cancel: cancel}
	defer func() {
		if err != nil {
			_ = s.Close(context.Background())
		}
	}()
	dir := cfg.DataDir
	if dir == "" {
		if s.tmp, err = os.MkdirTemp("", "smsgw-stacktest-"); err != nil {
			return nil, fmt.Errorf("stacktest: temp dir: %w", err)
		}
		dir = s.tmp
	}
	if s.Bus, err = bus.Open(ctx, bus.Config{DataDir: dir, Listen: cfg.NATSListen, Logger: log}); err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	s.NATSURL = s.Bus.ClientURL()

	sc := cfg.Sim
	sc.Addr = "127.0.0.1:0"
	if sc.ReceiptRetry == 0 {
		sc.ReceiptRetry = 300 * time.Millisecond
	}
	if s.Sim, err = simulator.Start(ctx, sc); err != nil {
		return nil, fmt.Errorf("stacktest: simulator: %w", err)
	}

	c := config.Default()
	c.Accounts = []config.Account{{ID: Account, APIKeys: []string{APIKey}, Sender: Sender, Numbers: []string{"+447700900000"}}}
	smsc := config.SMSCDefaults()
	smsc.Name, smsc.Addr, smsc.SystemID, smsc.Password = "sim", s.Sim.Addr(), "smsgw", "secret"
	smsc.ReconnectMin, smsc.ReconnectMax = 20*time.Millisecond, 200*time.Millisecond
	c.SMSCs = []config.SMSC{smsc}
	c.Routes = []config.Route{{Prefix: "+", SMSCs: []string{"sim"}}}
	c.Bridge.AllowPrivateTargets = true
	if cfg.Conf != nil {
		cfg.Conf(&c)
	}
	s.Config = c

	store, err := gateway.OpenStore(ctx, gateway.StoreConfig{Bus: s.Bus})
	if err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	names := make([]string, 0, len(c.SMSCs))
	for _, x := range c.SMSCs {
		names = append(names, x.Name)
	}
	api, err := gateway.NewAPI(gateway.APIConfig{Store: store, Bus: s.Bus, Accounts: c.Accounts, SMSCs: names,
		MaxParts: c.Messages.MaxParts, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	s.eng, err = gateway.NewEngine(gateway.EngineConfig{
		Bus: s.Bus, Config: c, Registry: prometheus.NewRegistry(), Logger: log,
		SubmitRetryMin: 50 * time.Millisecond, SubmitRetryMax: 500 * time.Millisecond,
		ReceiptRetryMin: 20 * time.Millisecond, ReceiptRetryMax: 200 * time.Millisecond,
		FetchWait: 200 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	if err := s.eng.Start(ctx); err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}

	eps, err := bridge.NewEndpointStore(ctx, s.Bus)
	if err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	s.br, err = bridge.New(bridge.Config{Bus: s.Bus, Store: eps, Settings: c.Bridge, Version: "stacktest", Logger: log})
	if err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	if err := s.br.Start(ctx); err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	bapi, err := bridge.NewAPI(bridge.APIConfig{Store: eps, Bus: s.Bus, Deliverer: s.br.Deliverer(),
		AllowPrivateTargets: c.Bridge.AllowPrivateTargets, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	// The gateway's /v1/ mux is already authenticated and body-capped.
	bapi.Register(api.V1())

	if s.srv, err = gateway.StartServer(gateway.ServerConfig{Addr: "127.0.0.1:0", Handler: api.Handler(), Logger: log}); err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	s.URL = "http://" + s.srv.Addr()

	deadline := time.Now().Add(10 * time.Second)
	for s.eng.Ready() != nil {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("stacktest: no SMSC bind after 10s: %w", s.eng.Ready())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return s, nil
}

// Keys are the stack's API keys (for wiring more routes).
func (s *Stack) Keys() httpapi.Keys { return httpapi.Keys{APIKey: Account} }

// Close stops everything in reverse order and removes the temp dir. Safe
// to call twice.
func (s *Stack) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var errs []error
		if s.srv != nil {
			errs = append(errs, s.srv.Stop(ctx))
		}
		if s.br != nil {
			errs = append(errs, s.br.Close(ctx))
		}
		if s.eng != nil {
			errs = append(errs, s.eng.Close(ctx))
		}
		if s.Sim != nil {
			errs = append(errs, s.Sim.Close())
		}
		if s.Bus != nil {
			s.Bus.Close()
		}
		s.cancel()
		if s.tmp != "" {
			errs = append(errs, os.RemoveAll(s.tmp))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
