package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/smsgw/smsgw/bridge"
	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/httpapi"
)

// brShutdownTimeout bounds how long in-flight deliveries may finish on
// Ctrl-C; the rest are handed back to JetStream and redelivered.
const brShutdownTimeout = 30 * time.Second

func newBridgeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bridge [--config FILE]",
		Short: "Run the webhook delivery workers against nats.url",
		Long: "bridge delivers the events stored in NATS JetStream to the webhook endpoints and callback_urls,\n" +
			"signed (Standard Webhooks), retried on the schedule kept in JetStream. Many bridge processes may run\n" +
			"against one NATS: they share each endpoint's durable consumer. It serves /healthz, /readyz and /metrics\n" +
			"on http.addr. Ctrl-C stops fetching, lets deliveries in flight finish and exits.",
		Example: `  # delivery workers against the gateway's NATS; health and metrics on :8081
  smsgw bridge --config smsgw.yaml --nats-url nats://nats-1:4222 --http-addr 0.0.0.0:8081

  # ready? (NATS reachable, no delivery queue stalled for bridge.stall_timeout)
  curl -s http://127.0.0.1:8081/readyz
  curl -s http://127.0.0.1:8081/metrics | grep '^smsgw_webhook'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				printConfigError(cmd.ErrOrStderr(), err)
				return errSilent
			}
			log := gwLogger(cfg.Log, cmd.ErrOrStderr()).With("component", "bridge")
			if cfg.NATS.URL == "" {
				log.Warn("nats.url is empty: starting an embedded NATS server; no gateway can share it unless nats.listen is reachable")
			}
			ctx := cmd.Context()
			b, err := bus.Open(ctx, gwBusConfig(cfg, "smsgw-bridge", log))
			if err != nil {
				return err
			}
			defer func() { _ = b.Close() }()
			return brRun(ctx, cfg, b, log, nil)
		},
	}
	cmd.Flags().String("http-addr", "", "health and metrics listen address (http.addr)")
	cmd.Flags().String("nats-url", "", "NATS server URL(s), comma-separated (nats.url)")
	if err := bindConfigFlags(cmd, map[string]string{"http-addr": "http.addr", "nats-url": "nats.url"}); err != nil {
		panic(err) // a misspelt key: a programming error caught by any test run
	}
	return cmd
}

// brRun runs the delivery workers and the health/metrics server until ctx
// ends, then stops the server and drains the workers. onListening (tests)
// gets the server's address.
func brRun(ctx context.Context, cfg config.Config, b *bus.Bus, log *slog.Logger, onListening func(addr string)) (err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	store, err := bridge.NewEndpointStore(ctx, b)
	if err != nil {
		return err
	}
	if err := store.SyncStatic(ctx, cfg.Webhooks); err != nil {
		return err
	}
	br, err := bridge.New(bridge.Config{
		Bus: b, Store: store, Settings: cfg.Bridge, Version: version, Logger: log, Registry: reg,
	})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), brShutdownTimeout)
		defer cancel()
		log.Info("stopping delivery: finishing attempts in flight")
		err = errors.Join(err, br.Close(sctx))
	}()
	if err := br.Start(ctx); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := errors.Join(b.Ping(pctx), br.Ready()); err != nil {
			httpapi.WriteProblem(w, httpapi.NewProblem(http.StatusServiceUnavailable, err.Error()))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("bridge: http listen %s: %w", cfg.HTTP.Addr, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if serr := <-serveErr; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}()
	if onListening != nil {
		onListening(ln.Addr().String())
	}
	log.Info("bridge running", "http_addr", ln.Addr().String(), "static_endpoints", len(cfg.Webhooks))
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case serr := <-serveErr:
		serveErr <- serr // for the deferred Shutdown
		return fmt.Errorf("bridge: http: %w", serr)
	}
}
