package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smsgw/smsgw/simulator"
)

func newSimulatorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "simulator [--listen ADDR] [--http ADDR] [--system-id ID] [--password PW]",
		Short: "Run the bundled SMPP 3.4 SMSC simulator on its own",
		Long: "simulator runs the SMSC simulator that serve starts in demo mode: it accepts binds, answers submit_sm,\n" +
			"sends delivery receipts chosen by the destination's last digits (…1400 hard bounce, …1404 soft bounce,\n" +
			"…1408 rejected, …1409 unknown, …1410 expired, …1499 no receipt, anything else delivered) and injects\n" +
			"mobile-originated messages through its control API (POST /mo, GET /stats on --http).\n" +
			"Its settings are the simulator.* config keys; the flags override them. It stores nothing on disk.",
		Example: `  # the defaults: SMPP on 127.0.0.1:2775, control API on 127.0.0.1:2776, smsgw/secret
  smsgw simulator

  # other ports and credentials, receipts after 2s, ESME_RTHROTTLED above 100 submit_sm/s
  smsgw simulator --listen 127.0.0.1:2780 --http 127.0.0.1:2781 --system-id carrier --password pw1 \
    --receipt-delay 2s --tps 100

  # inject a reply (MO) to the bound gateway, then read the counters
  curl -s -X POST http://127.0.0.1:2776/mo -d '{"from": "+447700900123", "to": "ACME", "text": "YES"}'
  curl -s http://127.0.0.1:2776/stats`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				printConfigError(cmd.ErrOrStderr(), err)
				return errSilent
			}
			log := gwLogger(cfg.Log, cmd.ErrOrStderr())
			sc := serveSimConfig(cfg, log)
			sc.MaxMessages = -1 // runs for days: keep no message log
			sim, err := simulator.Start(cmd.Context(), sc)
			if err != nil {
				return fmt.Errorf("simulator: %w", err)
			}
			log.Info("simulator running", "smpp_addr", sim.Addr(), "http_addr", sim.HTTPAddr(),
				"system_id", cfg.Simulator.SystemID, "password_set", cfg.Simulator.Password != "")
			<-cmd.Context().Done()
			log.Info("shutting down")
			return sim.Close()
		},
	}
	f := cmd.Flags()
	f.String("listen", "", "SMPP listen address (simulator.listen, default 127.0.0.1:2775)")
	f.String("http", "", "control API listen address (simulator.http, default 127.0.0.1:2776)")
	f.String("system-id", "", "system_id accepted (simulator.system_id, default smsgw)")
	f.String("password", "", "password accepted (simulator.password, default secret)")
	f.String("id-format", "", "message id format: hex or dec (simulator.id_format)")
	f.Duration("receipt-delay", 0, "delay before each receipt (simulator.receipt_delay, default 100ms)")
	f.Int("tps", 0, "submit_sm per second before ESME_RTHROTTLED; 0 unlimited (simulator.tps)")
	if err := bindConfigFlags(cmd, map[string]string{
		"listen": "simulator.listen", "http": "simulator.http", "system-id": "simulator.system_id",
		"password": "simulator.password", "id-format": "simulator.id_format",
		"receipt-delay": "simulator.receipt_delay", "tps": "simulator.tps",
	}); err != nil {
		panic(err) // a misspelt key: a programming error caught by any test run
	}
	return cmd
}
