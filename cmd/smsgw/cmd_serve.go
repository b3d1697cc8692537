package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/simulator"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [--config FILE]",
		Short: "All-in-one: embedded NATS, gateway, bridge (and the simulator in demo mode)",
		Long: "serve runs everything in one process: NATS with JetStream embedded (file store under data_dir),\n" +
			"the gateway (HTTP API + SMPP binds) and the webhook bridge. With no accounts and no SMSCs configured\n" +
			"(e.g. no config file at all) it starts in demo mode: the bundled simulator as SMSC \"simulator\",\n" +
			"account \"demo\" with API key \"" + config.DemoAPIKey + "\", and prints a curl line to try.\n" +
			"simulator.enabled: true starts the simulator in any mode.",
		Example: `  # demo mode (what 'make run' starts): simulator as SMSC, API key demo-key, data in ./data
  smsgw serve

  # your accounts, SMSCs and webhooks, JSON logs at debug level
  SMSGW_LOG_FORMAT=json SMSGW_LOG_LEVEL=debug smsgw serve --config smsgw.yaml

  # another port and store
  smsgw serve --http-addr 127.0.0.1:9090 --data-dir /var/lib/smsgw`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				printConfigError(cmd.ErrOrStderr(), err)
				return errSilent
			}
			demo := cfg.ApplyDemo()
			log := gwLogger(cfg.Log, cmd.ErrOrStderr())
			ctx := cmd.Context()
			if addr, _ := cmd.Flags().GetString("pprof-addr"); addr != "" {
				stop, err := servePprof(addr, log)
				if err != nil {
					return err
				}
				defer stop()
			}
			if cfg.NATS.URL != "" {
				log.Warn("serve always embeds NATS; nats.url is ignored (use gateway and bridge against an external NATS)")
			}
			bc := gwBusConfig(cfg, "smsgw-serve", log)
			bc.URL = ""
			b, err := bus.Open(ctx, bc)
			if err != nil {
				return err
			}
			defer func() { _ = b.Close() }()
			if cfg.NATS.Listen != "" {
				log.Info("embedded nats listening", "url", b.ClientURL())
			}

			if cfg.Simulator.Enabled {
				// Not ctx: Ctrl-C must not cut the binds before the engine
				// unbinds; the deferred Close stops it.
				sim, err := simulator.Start(context.WithoutCancel(ctx), serveSimConfig(cfg, log))
				if err != nil {
					return fmt.Errorf("simulator: %w", err)
				}
				// Closed after the gateway (deferred first, runs last):
				// the engine unbinds from it cleanly.
				defer func() { _ = sim.Close() }()
				log.Info("simulator running", "smpp_addr", sim.Addr(), "http_addr", sim.HTTPAddr())
				// SMSCs pointing at the simulator's configured address reach
				// it where it actually listens (port 0 picks a free one).
				for i := range cfg.SMSCs {
					if cfg.SMSCs[i].Addr == cfg.Simulator.Listen {
						cfg.SMSCs[i].Addr = sim.Addr()
					}
				}
			}

			return gwRun(ctx, cfg, b, log, gwWiring{
				bridge: true,
				onListening: func(addr string) {
					if demo {
						serveDemoHint(cmd.OutOrStdout(), addr)
					}
				},
			})
		},
	}
	cmd.Flags().String("http-addr", "", "HTTP API listen address (http.addr)")
	cmd.Flags().String("data-dir", "", "directory of the embedded NATS store (data_dir)")
	cmd.Flags().String("pprof-addr", "", "serve Go's net/http/pprof profiles on this address (e.g. 127.0.0.1:6060; off by default)")
	if err := bindConfigFlags(cmd, map[string]string{"http-addr": "http.addr", "data-dir": "data_dir"}); err != nil {
		panic(err) // a misspelt key: a programming error caught by any test run
	}
	return cmd
}

// serveSimConfig is the in-process simulator of cfg.simulator.
func serveSimConfig(cfg config.Config, log *slog.Logger) simulator.Config {
	s := cfg.Simulator
	return simulator.Config{
		Addr: s.Listen, HTTPAddr: s.HTTP,
		Credentials:  []simulator.Credential{{SystemID: s.SystemID, Password: s.Password}},
		IDFormat:     s.IDFormat,
		ReceiptDelay: s.ReceiptDelay,
		TPS:          s.TPS,
		// A long-running demo must not grow without bound.
		MaxMessages: 10000,
		Logger:      log,
	}
}

// serveDemoHint prints the demo API key and a first request to try.
func serveDemoHint(w io.Writer, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	fmt.Fprintf(w, `
smsgw demo mode: simulator as SMSC, account %q, API key %q

  curl -s http://%s/v1/messages \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"to": "+447700900123", "text": "Hello from smsgw"}'

Then GET http://%s/v1/messages/<id> to see its events (destinations ending in 1400 bounce).

`, config.DemoAccountID, config.DemoAPIKey, addr, config.DemoAPIKey, addr)
}
