package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/smsgw/smsgw/client"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/loadtest"
)

// Exit codes of send and bench (docs/CLI.md). root.go's exitCode turns
// every error into 1 today; an error carrying ExitCode lets it tell usage
// and connection errors (2) from refusals (1) once it asks for it.
const (
	exitRefused = 1
	exitUsage   = 2
)

// cliError is an error with the exit code the command means.
type cliError struct {
	code int
	err  error
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// ExitCode is the process exit code for this error.
func (e *cliError) ExitCode() int { return e.code }

func usageErr(format string, a ...any) error {
	return &cliError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// apiFlags adds --api-url and --api-key.
func apiFlags(cmd *cobra.Command) {
	cmd.Flags().String("api-url", "", "smsgw HTTP API base URL (env SMSGW_API_URL; default http://<http.addr> of the config, http://127.0.0.1:8080)")
	cmd.Flags().String("api-key", "", "API key (env SMSGW_API_KEY; default the config's only account's first key, else the demo key of `smsgw serve`)")
	cmd.Flags().Duration("timeout", 30*time.Second, "timeout of each HTTP request")
}

// apiClient builds the API client from flags, env and config, in that
// order of precedence.
func apiClient(cmd *cobra.Command) (*client.Client, error) {
	url, _ := cmd.Flags().GetString("api-url")
	key, _ := cmd.Flags().GetString("api-key")
	timeout, _ := cmd.Flags().GetDuration("timeout")
	if url == "" {
		url = os.Getenv("SMSGW_API_URL")
	}
	if key == "" {
		key = os.Getenv("SMSGW_API_KEY")
	}
	if url == "" || key == "" {
		cfg, err := loadConfig(cmd)
		if err != nil {
			printConfigError(cmd.ErrOrStderr(), err)
			return nil, &cliError{code: exitUsage, err: errSilent}
		}
		if url == "" {
			url = "http://" + cfg.HTTP.Addr
		}
		if key == "" {
			key = config.DemoAPIKey
			if len(cfg.Accounts) == 1 && len(cfg.Accounts[0].APIKeys) > 0 {
				key = cfg.Accounts[0].APIKeys[0]
			}
		}
	}
	c, err := client.New(client.Config{BaseURL: url, APIKey: key, Timeout: timeout, UserAgent: "smsgw-cli/" + version})
	if err != nil {
		return nil, &cliError{code: exitUsage, err: err}
	}
	return c, nil
}

// isTTY reports whether w is a terminal (progress bars only go there).
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newBar is a progress bar on w, or nil when w is not a terminal or quiet.
func newBar(w io.Writer, quiet bool, max int, desc string) *progressbar.ProgressBar {
	if quiet || !isTTY(w) {
		return nil
	}
	return progressbar.NewOptions(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("msg"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func newSendCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "send (--to NUMBER --text TEXT | --file FILE)",
		Short: "Submit one message, or a CSV/JSONL file of them, through the HTTP API",
		Long: "send submits through the HTTP API (POST /v1/messages, or /v1/messages/batch with --batch).\n\n" +
			"One message: --to and --text (plus --from, --encoding, --validity, --route, --callback-url,\n" +
			"--metadata key=value); the message resource is printed as JSON.\n\n" +
			"A file: --file msgs.csv or msgs.jsonl (\"-\" reads stdin; name the format with --format).\n" +
			"CSV has a header row naming submit body fields: to, text, from, encoding, validity, route,\n" +
			"callback_url and metadata.<key> columns. JSONL has one submit body (JSON object) per line.\n" +
			"Bad lines are reported with their line numbers and the rest are still sent. A progress bar\n" +
			"goes to stderr when it is a terminal (not with --quiet); a summary of accepted and refused\n" +
			"messages, with counts per reason, goes to stdout; --out writes one JSON result per input line.\n\n" +
			"Exit status: 0 when every message was accepted, 1 when any was refused, 2 for usage errors or\n" +
			"when the API could not be reached (see docs/CLI.md).",
		Example: `  # one message, with the demo key of 'smsgw serve'
  smsgw send --to +447700900123 --text "hi" --api-key demo-key

  # a file, 50 messages/s, 4 requests in flight, results per line
  export SMSGW_API_URL=http://127.0.0.1:8080 SMSGW_API_KEY=change-me
  smsgw send --file msgs.csv --rate 50 --concurrency 4 --out results.jsonl

  # a large file through the batch route, 500 per request
  smsgw send --file msgs.jsonl --batch 500 --quiet`,
		Args: cobra.NoArgs,
		RunE: runSend,
	}
	f := cmd.Flags()
	f.String("to", "", "destination, E.164 (+447700900123)")
	f.String("text", "", "message text")
	f.String("from", "", "sender (default: the account's)")
	f.String("encoding", "", "auto, gsm7 or ucs2")
	f.String("validity", "", "validity period, a duration (90m, 24h)")
	f.String("route", "", "SMSC name to route through")
	f.String("callback-url", "", "URL that gets this message's events")
	f.StringToString("metadata", nil, "metadata key=value (repeatable)")
	f.String("idempotency-key", "", "Idempotency-Key header (single message)")
	f.String("file", "", "CSV or JSONL file of messages (\"-\": stdin)")
	f.String("format", "", "file format: csv or jsonl (default: from the file extension)")
	f.Float64("rate", 0, "messages per second (0: no limit)")
	f.Int("concurrency", 8, "requests in flight")
	f.Int("batch", 0, "send through the batch route, this many per request (1-1000; 0: one request per message)")
	f.String("out", "", "write one JSON result line per input line to this file")
	f.BoolP("quiet", "q", false, "no progress bar")
	apiFlags(cmd)
	return cmd
}

func runSend(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	file, _ := f.GetString("file")
	to, _ := f.GetString("to")
	if (file == "") == (to == "") {
		return usageErr("send: give either --to (with --text) or --file")
	}
	c, err := apiClient(cmd)
	if err != nil {
		return err
	}
	if file == "" {
		return sendOne(cmd, c)
	}
	for _, name := range []string{"text", "from", "encoding", "validity", "route", "callback-url", "metadata", "idempotency-key"} {
		if f.Changed(name) {
			return usageErr("send: --%s applies to a single message, not to --file (put it in the file)", name)
		}
	}
	return sendFile(cmd, c, file)
}

func sendOne(cmd *cobra.Command, c *client.Client) error {
	f := cmd.Flags()
	var req client.SubmitRequest
	req.To, _ = f.GetString("to")
	req.Text, _ = f.GetString("text")
	req.From, _ = f.GetString("from")
	req.Encoding, _ = f.GetString("encoding")
	req.Validity, _ = f.GetString("validity")
	req.Route, _ = f.GetString("route")
	req.CallbackURL, _ = f.GetString("callback-url")
	req.Metadata, _ = f.GetStringToString("metadata")
	key, _ := f.GetString("idempotency-key")
	m, err := c.Submit(cmd.Context(), req, key)
	if err != nil {
		var p *client.Problem
		if errors.As(err, &p) {
			// The problem as the API sent it, for scripts; exit 1.
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			_ = enc.Encode(p)
			return &cliError{code: exitRefused, err: err}
		}
		return &cliError{code: exitUsage, err: err}
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// sendResultLine is one line of --out.
type sendResultLine struct {
	Line      int             `json:"line"`
	Status    int             `json:"status"`
	MessageID string          `json:"message_id,omitempty"`
	Error     string          `json:"error,omitempty"`
	Problem   *client.Problem `json:"problem,omitempty"`
}

func sendFile(cmd *cobra.Command, c *client.Client, path string) error {
	f := cmd.Flags()
	formatName, _ := f.GetString("format")
	rate, _ := f.GetFloat64("rate")
	conc, _ := f.GetInt("concurrency")
	batch, _ := f.GetInt("batch")
	outPath, _ := f.GetString("out")
	quiet, _ := f.GetBool("quiet")

	var format loadtest.Format
	var err error
	switch {
	case formatName != "":
		format, err = loadtest.ParseFormat(formatName)
	case path == "-":
		err = errors.New("send: --file - (stdin) needs --format csv or jsonl")
	default:
		format, err = loadtest.FormatFor(path)
	}
	if err != nil {
		return &cliError{code: exitUsage, err: err}
	}
	if batch < 0 || batch > client.MaxBatch || rate < 0 || conc < 1 {
		return usageErr("send: want --batch 0-%d, --rate >= 0, --concurrency >= 1", client.MaxBatch)
	}
	in := cmd.InOrStdin()
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return &cliError{code: exitUsage, err: fmt.Errorf("send: %w", err)}
		}
		defer fh.Close()
		in = fh
	}
	items, err := loadtest.ReadItems(in, format)
	if err != nil {
		return &cliError{code: exitUsage, err: fmt.Errorf("send: %s: %w", path, err)}
	}
	if len(items) == 0 {
		return usageErr("send: %s: no messages", path)
	}
	var out *os.File
	if outPath != "" {
		if out, err = os.Create(outPath); err != nil {
			return &cliError{code: exitUsage, err: fmt.Errorf("send: --out: %w", err)}
		}
		defer out.Close()
	}

	bar := newBar(cmd.ErrOrStderr(), quiet, len(items), "sending")
	results := make([]loadtest.Result, len(items))
	sum, sendErr := loadtest.Send(cmd.Context(), loadtest.SendConfig{
		Client: c, Rate: rate, Concurrency: conc, Batch: batch,
		OnResult: func(r loadtest.Result) {
			results[r.Index] = r
			if bar != nil {
				_ = bar.Add(1)
			}
		},
	}, items)
	if bar != nil {
		_ = bar.Finish()
	}
	if out != nil {
		if err := writeResults(out, results); err != nil {
			return &cliError{code: exitUsage, err: fmt.Errorf("send: --out: %w", err)}
		}
	}
	printSummary(cmd.OutOrStdout(), sum)
	switch {
	case sendErr != nil:
		return &cliError{code: exitUsage, err: fmt.Errorf("send: stopped: %w", sendErr)}
	case sum.Errors > 0 && sum.Accepted == 0:
		// Nothing got through: the API is unreachable or the URL wrong.
		return &cliError{code: exitUsage, err: errSilent}
	case !sum.OK():
		return &cliError{code: exitRefused, err: errSilent}
	}
	return nil
}

func writeResults(w io.Writer, results []loadtest.Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		l := sendResultLine{Line: r.Line, Status: r.Status, MessageID: r.MessageID, Problem: r.Problem}
		if !r.Accepted() {
			l.Error = r.Reason()
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

func printSummary(w io.Writer, s loadtest.Summary) {
	fmt.Fprintf(w, "%d messages in %s (%.0f/s): %d accepted, %d refused", s.Total,
		s.Elapsed.Round(time.Millisecond), loadtest.PerSecond(s.Accepted+s.Refused, s.Elapsed), s.Accepted, s.Refused)
	if s.Errors > 0 {
		fmt.Fprintf(w, ", %d without answer", s.Errors)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(w, ", %d not sent (interrupted)", s.Skipped)
	}
	fmt.Fprintln(w)
	for _, rc := range s.SortedReasons() {
		fmt.Fprintf(w, "  %6d  %s\n", rc.Count, strings.TrimSpace(rc.Reason))
	}
}
