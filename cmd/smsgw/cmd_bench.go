package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/client"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/loadtest"
	"github.com/smsgw/smsgw/simulator"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench [--n N] [--rate R] [--batch B] [--serve | --api-url URL --api-key KEY]",
		Short: "Load generator: N messages through the API, waits for their webhooks, prints throughput and latency",
		Long: "bench starts its own webhook receiver on 127.0.0.1 (every delivery's signature is verified with the\n" +
			"Standard Webhooks library), registers it through POST /v1/webhooks for message.delivered,\n" +
			"message.undelivered and message.failed, submits N messages (unique, deliverable destinations from\n" +
			"--to-prefix; --recipients cycles through that many instead), waits for every final event (--timeout) and deletes the endpoint.\n\n" +
			"It prints accepted/s (submit phase), end-to-end messages/s (first submit → last final webhook),\n" +
			"latency percentiles from submit to webhook receipt, lost messages (accepted, no final event by the\n" +
			"timeout), duplicates (a webhook-id twice; distinct webhook-ids with a final event for one message),\n" +
			"and the gateway's peak RSS (--gateway-pid, or this process with --serve).\n\n" +
			"The target must accept loopback webhook URLs: bridge.allow_private_targets: true (demo mode of\n" +
			"`smsgw serve` sets it). --serve runs the whole smsgw in this process (embedded NATS in a temp dir,\n" +
			"simulator, gateway, bridge; --config applies) and benchmarks that.",
		Example: `  # one command: in-process smsgw, 10,000 messages, batches of 500
  smsgw bench --serve --n 10000 --batch 500

  # against a running 'smsgw serve' (demo key), 200 msg/s steady, with its RSS
  smsgw bench --api-url http://127.0.0.1:8080 --api-key demo-key --n 5000 --rate 200 --gateway-pid $(pgrep -f 'smsgw serve')

  # machine-readable, for docs
  smsgw bench --serve --n 2000 --json > bench.json`,
		Args: cobra.NoArgs,
		RunE: runBench,
	}
	f := cmd.Flags()
	f.Int("n", 10000, "messages to send")
	f.Float64("rate", 0, "messages per second (0: as fast as possible)")
	f.Int("concurrency", 16, "requests in flight")
	f.Int("batch", 0, "messages per batch request (1-1000; 0: single submits)")
	f.String("to-prefix", "+4477009", "destination prefix; digits are appended (simulator failure endings skipped)")
	f.Int("recipients", 0, "distinct destinations to cycle through (0: a new one per message)")
	f.String("text", "smsgw bench", "message text")
	f.Duration("wait", 60*time.Second, "how long to wait for final events after the last submit")
	f.Int("gateway-pid", 0, "report this process's peak RSS (VmHWM)")
	f.String("receiver-addr", "127.0.0.1:0", "listen address of bench's webhook receiver")
	f.Bool("serve", false, "run smsgw in this process and benchmark it")
	f.Bool("json", false, "print the report as JSON")
	f.BoolP("quiet", "q", false, "no progress bar")
	f.Duration("duration", 0, "soak: send for this long at --rate (sets --n to rate × duration)")
	f.Duration("rss-every", 0, "sample the gateway's RSS this often and report first vs last minute (default 1s with --duration)")
	f.Duration("rss-warmup", 0, "soak: send for this long first, leaving it out of the RSS trend (the run is --rss-warmup + --duration)")
	f.Duration("receipt-delay", -1, "with --serve: the simulator's receipt delay (simulator.receipt_delay; demo default 100ms)")
	f.String("cpuprofile", "", "write a CPU profile of this process (with --serve: server and bench) to FILE")
	f.String("memprofile", "", "write a heap profile of this process at the end of the run (before the server stops) to FILE")
	apiFlags(cmd)
	return cmd
}

func runBench(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	var bc loadtest.BenchConfig
	bc.N, _ = f.GetInt("n")
	bc.Rate, _ = f.GetFloat64("rate")
	bc.Concurrency, _ = f.GetInt("concurrency")
	bc.Batch, _ = f.GetInt("batch")
	bc.ToPrefix, _ = f.GetString("to-prefix")
	bc.Recipients, _ = f.GetInt("recipients")
	bc.Text, _ = f.GetString("text")
	bc.Timeout, _ = f.GetDuration("wait")
	bc.GatewayPID, _ = f.GetInt("gateway-pid")
	bc.ReceiverAddr, _ = f.GetString("receiver-addr")
	bc.RSSEvery, _ = f.GetDuration("rss-every")
	if d, _ := f.GetDuration("duration"); d > 0 {
		if bc.Rate <= 0 {
			return usageErr("bench: --duration needs --rate")
		}
		bc.RSSWarmup, _ = f.GetDuration("rss-warmup")
		if bc.RSSWarmup < 0 {
			return usageErr("bench: --rss-warmup must be >= 0")
		}
		bc.N = int(bc.Rate * (d + bc.RSSWarmup).Seconds())
		if bc.RSSEvery == 0 {
			bc.RSSEvery = time.Second
		}
	} else if f.Changed("rss-warmup") {
		return usageErr("bench: --rss-warmup applies to a --duration soak")
	}
	serve, _ := f.GetBool("serve")
	asJSON, _ := f.GetBool("json")
	quiet, _ := f.GetBool("quiet")
	if bc.N <= 0 || bc.Rate < 0 || bc.Concurrency < 1 || bc.Batch < 0 || bc.Batch > client.MaxBatch || bc.Timeout <= 0 || bc.Recipients < 0 {
		return usageErr("bench: want --n > 0, --rate >= 0, --concurrency >= 1, --batch 0-%d, --wait > 0, --recipients >= 0", client.MaxBatch)
	}
	ctx := cmd.Context()

	var c *client.Client
	var err error
	if serve {
		if f.Changed("api-url") || bc.GatewayPID != 0 {
			return usageErr("bench: --serve benchmarks this process; --api-url and --gateway-pid do not apply")
		}
		var stop func() error
		c, stop, err = benchServe(ctx, cmd)
		if err != nil {
			return &cliError{code: exitUsage, err: fmt.Errorf("bench: --serve: %w", err)}
		}
		defer func() {
			if err := stop(); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "smsgw: bench: stopping the in-process server:", err)
			}
		}()
		bc.GatewayPID = -1
	} else if f.Changed("receipt-delay") {
		return usageErr("bench: --receipt-delay applies to --serve's simulator only")
	} else if c, err = apiClient(cmd); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = c.Ready(rctx)
	cancel()
	if err != nil {
		return &cliError{code: exitUsage, err: fmt.Errorf("bench: the API is not ready: %w", err)}
	}

	if path, _ := f.GetString("cpuprofile"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return &cliError{code: exitUsage, err: fmt.Errorf("bench: %w", err)}
		}
		defer stop()
	}

	bc.Client = c
	bar := newBar(cmd.ErrOrStderr(), quiet, bc.N, "final webhooks")
	last := 0
	bc.OnProgress = func(p loadtest.Progress) {
		if bar == nil {
			return
		}
		bar.Describe(fmt.Sprintf("submitted %d/%d, final webhooks", p.Answered, p.N))
		if p.Finals > last {
			_ = bar.Add(p.Finals - last)
			last = p.Finals
		}
	}
	rep, err := loadtest.Bench(ctx, bc)
	if path, _ := f.GetString("memprofile"); path != "" {
		if perr := writeHeapProfile(path); perr != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "smsgw: bench:", perr)
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if rep == nil {
		return &cliError{code: exitUsage, err: err}
	}
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printBenchReport(cmd.OutOrStdout(), rep)
	}
	switch {
	case err != nil:
		return &cliError{code: exitUsage, err: fmt.Errorf("bench: %w", err)}
	case rep.Lost > 0 || rep.Refused > 0 || rep.Errors > 0 || rep.Receiver.BadSignatures > 0:
		return &cliError{code: exitRefused, err: errSilent}
	}
	return nil
}

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		_ = fh.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = fh.Close()
	}, nil
}

// writeHeapProfile writes the live heap (after a GC) to path.
func writeHeapProfile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(fh); err != nil {
		_ = fh.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return fh.Close()
}

func printBenchReport(w io.Writer, r *loadtest.Report) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	mode := "single submits"
	if r.Batch > 0 {
		mode = fmt.Sprintf("batches of %d", r.Batch)
	}
	rate := "as fast as possible"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%.0f msg/s", r.Rate)
	}
	fmt.Fprintf(w, "messages      %d (%s, concurrency %d, %s)\n", r.N, mode, r.Concurrency, rate)
	fmt.Fprintf(w, "accepted      %d in %.2fs: %.0f accepted/s", r.Accepted, r.SubmitSeconds, r.AcceptedPerSec)
	if r.Refused+r.Errors > 0 {
		fmt.Fprintf(w, " (refused %d, no answer %d)", r.Refused, r.Errors)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "end to end    %d final webhooks in %.2fs: %.0f msg/s\n", r.Latency.Count, r.E2ESeconds, r.E2EPerSec)
	fmt.Fprintf(w, "latency       p50 %s  p95 %s  p99 %s  max %s  (submit → final webhook)\n",
		ms(r.Latency.P50), ms(r.Latency.P95), ms(r.Latency.P99), ms(r.Latency.Max))
	fmt.Fprintf(w, "finals        delivered %d, undelivered %d, failed %d\n",
		r.Finals["message.delivered"], r.Finals["message.undelivered"], r.Finals["message.failed"])
	fmt.Fprintf(w, "lost          %d", r.Lost)
	if r.TimedOut {
		fmt.Fprintf(w, " (wait timed out; e.g. %v)", r.LostSample)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "duplicates    %d repeated webhook-ids, %d extra final events\n", r.Receiver.DuplicateIDs, r.Receiver.DuplicateFinals)
	fmt.Fprintf(w, "signatures    %d bad\n", r.Receiver.BadSignatures)
	switch {
	case r.PeakRSS > 0:
		fmt.Fprintf(w, "gateway RSS   %.1f MiB peak\n", float64(r.PeakRSS)/(1<<20))
	case r.RSSError != "":
		fmt.Fprintf(w, "gateway RSS   unknown: %s\n", r.RSSError)
	}
	if t := r.RSS; t != nil && t.Samples > 0 {
		mib := func(b int64) float64 { return float64(b) / (1 << 20) }
		warm := ""
		if r.RSSWarmupSeconds > 0 {
			warm = fmt.Sprintf(" (after a %.0fs warm-up)", r.RSSWarmupSeconds)
		}
		fmt.Fprintf(w, "RSS trend     first %.0fs %.1f MiB, last %.0fs %.1f MiB (%+.1f %%), max %.1f MiB, %d samples%s\n",
			t.WindowSeconds, mib(t.FirstMean), t.WindowSeconds, mib(t.LastMean), 100*t.Growth, mib(t.Max), t.Samples, warm)
		if t := r.RSSWhole; t != nil && t.Samples > 0 {
			fmt.Fprintf(w, "  whole run   first %.0fs %.1f MiB, last %.0fs %.1f MiB (%+.1f %%)\n",
				t.WindowSeconds, mib(t.FirstMean), t.WindowSeconds, mib(t.LastMean), 100*t.Growth)
		}
	}
	for _, rc := range (loadtest.Summary{Reasons: r.Reasons}).SortedReasons() {
		fmt.Fprintf(w, "  refused %6d  %s\n", rc.Count, rc.Reason)
	}
}

// benchServe runs smsgw in this process the way `smsgw serve` does
// (embedded NATS, the simulator, gateway and bridge via gwRun) on loopback
// ports and a temp data dir, and returns a client for it. stop shuts it
// down and removes the temp dir.
func benchServe(ctx context.Context, cmd *cobra.Command) (_ *client.Client, stop func() error, err error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		printConfigError(cmd.ErrOrStderr(), err)
		return nil, nil, errors.New("invalid config")
	}
	dir, err := os.MkdirTemp("", "smsgw-bench-")
	if err != nil {
		return nil, nil, err
	}
	cfg.DataDir = dir
	cfg.NATS.URL, cfg.NATS.Listen = "", ""
	cfg.HTTP.Addr = "127.0.0.1:0"
	if cfg.Simulator.Listen != "" {
		// Demo SMSCs point at the simulator's configured address; keep
		// that link when moving it to a free port.
		for i := range cfg.SMSCs {
			if cfg.SMSCs[i].Addr == cfg.Simulator.Listen {
				cfg.SMSCs[i].Addr = "127.0.0.1:0"
			}
		}
	}
	cfg.Simulator.Listen, cfg.Simulator.HTTP = "127.0.0.1:0", ""
	if d, _ := cmd.Flags().GetDuration("receipt-delay"); d >= 0 {
		cfg.Simulator.ReceiptDelay = d
	}
	if !cmd.Flags().Changed("config") {
		cfg.Log.Level = "warn" // the report is the output, not the server's logs
	}
	demo := cfg.ApplyDemo()
	// The receiver is on loopback, by design.
	cfg.Bridge.AllowPrivateTargets = true
	key := config.DemoAPIKey
	if !demo {
		if len(cfg.Accounts) == 0 || len(cfg.Accounts[0].APIKeys) == 0 {
			return nil, nil, errors.New("the config has no account with an API key")
		}
		key = cfg.Accounts[0].APIKeys[0]
	}
	log := gwLogger(cfg.Log, cmd.ErrOrStderr())

	sctx, cancel := context.WithCancel(ctx)
	cleanup := []func(){func() { _ = os.RemoveAll(dir) }}
	fail := func(err error) (*client.Client, func() error, error) {
		cancel()
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
		return nil, nil, err
	}
	bcfg := gwBusConfig(cfg, "smsgw-bench", log)
	b, err := bus.Open(sctx, bcfg)
	if err != nil {
		return fail(err)
	}
	cleanup = append(cleanup, func() { _ = b.Close() })
	if cfg.Simulator.Enabled {
		sim, err := simulator.Start(sctx, serveSimConfig(cfg, log))
		if err != nil {
			return fail(fmt.Errorf("simulator: %w", err))
		}
		cleanup = append(cleanup, func() { _ = sim.Close() })
		for i := range cfg.SMSCs {
			if cfg.SMSCs[i].Addr == "127.0.0.1:0" {
				cfg.SMSCs[i].Addr = sim.Addr()
			}
		}
	}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- gwRun(sctx, cfg, b, log, gwWiring{bridge: true, onListening: func(a string) { addr <- a }})
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a
	case err := <-done:
		return fail(fmt.Errorf("gateway: %w", err))
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		return fail(errors.New("gateway did not listen within 30s"))
	}
	c, err := client.New(client.Config{BaseURL: url, APIKey: key, UserAgent: "smsgw-bench/" + version})
	if err != nil {
		cancel()
		<-done
		return fail(err)
	}
	// Wait for the SMSC bind: the first messages would otherwise count the
	// bind time as latency.
	deadline := time.Now().Add(15 * time.Second)
	for c.Ready(sctx) != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	return c, func() error {
		cancel()
		err := <-done
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
		return err
	}, nil
}
