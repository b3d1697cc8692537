package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/gateway"
)

// gwShutdownTimeout bounds the drain on Ctrl-C: requests in flight, submits
// in progress and unbinds.
const gwShutdownTimeout = 30 * time.Second

func newGatewayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gateway [--config FILE]",
		Short: "Run the HTTP submit API and the SMPP binds against nats.url",
		Long: "gateway serves the HTTP API (messages, opt-outs, health, metrics) and keeps the configured SMPP binds,\n" +
			"sharing all state through NATS JetStream at nats.url, so many gateway processes can run side by side.\n" +
			"With nats.url empty it starts an embedded NATS server (single instance only).\n" +
			"Ctrl-C stops accepting requests, drains those in flight and submits in progress, unbinds and exits.",
		Example: `  # against a NATS cluster (run as many as you need; they share the work)
  smsgw gateway --config smsgw.yaml --nats-url nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222

  # the same through the environment
  SMSGW_NATS_URL=nats://nats-1:4222 SMSGW_HTTP_ADDR=0.0.0.0:8080 smsgw gateway --config smsgw.yaml

  # is it ready? (NATS reachable, at least one bind up)
  curl -s http://127.0.0.1:8080/readyz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				printConfigError(cmd.ErrOrStderr(), err)
				return errSilent
			}
			log := gwLogger(cfg.Log, cmd.ErrOrStderr())
			if cfg.NATS.URL == "" {
				log.Warn("nats.url is empty: starting an embedded NATS server; other instances cannot share it unless nats.listen is reachable")
			}
			ctx := cmd.Context()
			b, err := bus.Open(ctx, gwBusConfig(cfg, "smsgw-gateway", log))
			if err != nil {
				return err
			}
			defer func() { _ = b.Close() }()
			return gwRun(ctx, cfg, b, log, gwWiring{})
		},
	}
	cmd.Flags().String("http-addr", "", "HTTP API listen address (http.addr)")
	cmd.Flags().String("nats-url", "", "NATS server URL(s), comma-separated (nats.url)")
	if err := bindConfigFlags(cmd, map[string]string{"http-addr": "http.addr", "nats-url": "nats.url"}); err != nil {
		panic(err) // a misspelt key: a programming error caught by any test run
	}
	return cmd
}

// gwWiring is what serve adds around the gateway.
type gwWiring struct {
	// bridge starts the webhook bridge in this process, its routes on the
	// gateway's authenticated /v1/ mux.
	bridge bool
	// onListening runs once the HTTP server listens (serve prints the demo
	// hints there).
	onListening func(addr string)
}

// gwRun runs the gateway (engine + HTTP API, and the bridge when asked)
// until ctx ends, then drains in order: stop accepting HTTP and finish
// requests in flight, stop the bridge, close the engine (finishing submits
// in progress and unbinding). The caller closes the bus afterwards.
func gwRun(ctx context.Context, cfg config.Config, b *bus.Bus, log *slog.Logger, w gwWiring) (err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	store, err := gateway.OpenStore(ctx, gateway.StoreConfig{Bus: b, Logger: log.With("component", "store")})
	if err != nil {
		return err
	}
	eng, err := gateway.NewEngine(gateway.EngineConfig{
		Bus: b, Config: cfg, Logger: log.With("component", "engine"), Registry: reg, OptOuts: store,
	})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(cfg.SMSCs))
	for _, s := range cfg.SMSCs {
		names = append(names, s.Name)
	}
	api, err := gateway.NewAPI(gateway.APIConfig{
		Store: store, Bus: b, Accounts: cfg.Accounts, SMSCs: names,
		MaxParts: cfg.Messages.MaxParts, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		Checks:   []gateway.Check{{Name: "smsc", Fn: func(context.Context) error { return eng.Ready() }}},
		Registry: reg, Logger: log.With("component", "api"),
	})
	if err != nil {
		return err
	}

	// Everything started below is stopped here, in reverse order, even
	// when a later step fails.
	var stops []func(context.Context) error
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), gwShutdownTimeout)
		defer cancel()
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i](sctx))
		}
		err = errors.Join(append([]error{err}, errs...)...)
	}()

	if w.bridge {
		stop, ready, berr := startBridge(ctx, cfg, b, api.V1(), api.Keys(), reg, log)
		if berr != nil {
			return fmt.Errorf("bridge: %w", berr)
		}
		stops = append(stops, stop)
		api.AddCheck(gateway.Check{Name: "bridge", Fn: func(context.Context) error { return ready() }})
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	stops = append(stops, func(ctx context.Context) error {
		log.Info("closing engine: finishing submits in progress and unbinding")
		return eng.Close(ctx)
	})
	srv, err := gateway.StartServer(gateway.ServerConfig{
		Addr: cfg.HTTP.Addr, Handler: api.Handler(),
		ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout, IdleTimeout: cfg.HTTP.IdleTimeout,
		Logger: log.With("component", "http"),
	})
	if err != nil {
		return err
	}
	stops = append(stops, func(ctx context.Context) error {
		log.Info("stopping http: draining requests in flight")
		return srv.Stop(ctx)
	})
	if w.onListening != nil {
		w.onListening(srv.Addr())
	}
	log.Info("gateway running", "http_addr", srv.Addr(), "smscs", len(cfg.SMSCs), "accounts", len(cfg.Accounts))
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// gwBusConfig is the bus configuration of cfg.nats.
func gwBusConfig(cfg config.Config, name string, log *slog.Logger) bus.Config {
	n := cfg.NATS
	return bus.Config{
		URL: n.URL, Listen: n.Listen, DataDir: cfg.DataDir, Replicas: n.Replicas, Name: name,
		CredsFile: n.CredsFile, NKeyFile: n.NKeyFile, User: n.User, Password: n.Password, Token: n.Token,
		TLS:    n.TLS,
		Logger: log.With("component", "nats"),
	}
}

// gwLogger builds the process logger of cfg.log.
func gwLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
