package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
)

// defaultTailNATSURL is where `smsgw serve`'s embedded NATS listens by
// default (nats.listen).
const defaultTailNATSURL = "nats://127.0.0.1:4222"

func newEventsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "events",
		Short:   "Read the event stream in NATS",
		Example: `  smsgw events tail --type message.delivered --format table`,
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(newEventsTailCmd())
	return cmd
}

// tailOptions is what `events tail` reads.
type tailOptions struct {
	Account string
	Types   []string
	Format  string        // json | table
	Since   time.Duration // > 0: start this far back
	All     bool          // start at the first stored event
	Now     func() time.Time
}

func newEventsTailCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tail [--type TYPE]... [--account ID] [--since 10m | --all]",
		Short: "Live stream of events from NATS, one JSON per line",
		Long: "tail reads the events stream (" + events.StreamName + ", subjects " + events.SubjectPrefix + "<account>.<type>)\n" +
			"with a JetStream ordered consumer and prints each event as stored: the webhook envelope plus its id,\n" +
			"one JSON object per line. --format table prints an aligned line per event instead (time, account,\n" +
			"type, message_id, to, status). Without --since or --all only new events are shown. Ctrl-C stops it.\n\n" +
			"NATS is --nats-url, else nats.url of the config, else " + defaultTailNATSURL + " (where `smsgw serve`\n" +
			"listens by default); credentials and TLS come from the config's nats.* keys.",
		Example: `  # everything, as it happens
  smsgw events tail

  # final outcomes of account acme from the last 10 minutes, readable
  smsgw events tail --account acme --type message.delivered --type message.undelivered --since 10m --format table

  # every message event stored so far, into jq
  smsgw events tail --type 'message.*' --all | jq -c '{type, id: .data.message_id}'`,
		Args: cobra.NoArgs,
		RunE: runEventsTail,
	}
	f := cmd.Flags()
	f.String("nats-url", "", "NATS server URL (nats.url; default "+defaultTailNATSURL+")")
	f.StringArray("type", nil, "event type to show (repeatable; wildcards like message.* allowed; default all)")
	f.String("account", "", "only this account's events (default all accounts)")
	f.String("format", "json", "output format: json or table")
	f.Duration("since", 0, "start this far in the past (e.g. 10m)")
	f.Bool("all", false, "start at the first stored event")
	if err := bindConfigFlags(cmd, map[string]string{"nats-url": "nats.url"}); err != nil {
		panic(err) // a misspelt key: caught by any test run
	}
	return cmd
}

func runEventsTail(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	var o tailOptions
	o.Types, _ = f.GetStringArray("type")
	o.Account, _ = f.GetString("account")
	o.Format, _ = f.GetString("format")
	o.Since, _ = f.GetDuration("since")
	o.All, _ = f.GetBool("all")
	if _, err := tailSubjects(o.Account, o.Types); err != nil {
		return &cliError{code: exitUsage, err: err}
	}
	if o.Format != "json" && o.Format != "table" {
		return usageErr("events tail: --format %q: want json or table", o.Format)
	}
	if o.Since < 0 || (o.Since > 0 && o.All) {
		return usageErr("events tail: --since must be positive, and not given with --all")
	}
	cfg, err := loadConfig(cmd)
	if err != nil {
		printConfigError(cmd.ErrOrStderr(), err)
		return &cliError{code: exitUsage, err: errSilent}
	}
	bc := gwBusConfig(cfg, "smsgw-events-tail", slog.New(slog.DiscardHandler))
	if bc.URL == "" {
		// Never start an embedded server here: there would be nothing in it.
		bc.URL = defaultTailNATSURL
	}
	ctx := cmd.Context()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	b, err := bus.Open(cctx, bc)
	cancel()
	if err != nil {
		return &cliError{code: exitUsage, err: fmt.Errorf("events tail: %w", err)}
	}
	defer b.Close()
	return tailEvents(ctx, b.JS, o, cmd.OutOrStdout())
}

// tailSubjects turns --account and --type into the consumer's filter
// subjects: sms.events.<account|*>.<type|>>. A type "*" or ">" (or none)
// means every type.
func tailSubjects(account string, types []string) ([]string, error) {
	acct := "*"
	if account != "" {
		if strings.ContainsAny(account, ".*> \t\r\n") {
			return nil, fmt.Errorf("events tail: --account %q: an account id has no '.', '*', '>' or spaces", account)
		}
		acct = account
	}
	if len(types) == 0 {
		return []string{events.SubjectPrefix + acct + ".>"}, nil
	}
	var subs []string
	seen := map[string]bool{}
	for _, t := range types {
		t = strings.TrimSpace(t)
		if t == "*" || t == ">" {
			return []string{events.SubjectPrefix + acct + ".>"}, nil
		}
		if err := checkTypeFilter(t); err != nil {
			return nil, err
		}
		s := events.SubjectPrefix + acct + "." + t
		if !seen[s] {
			seen[s] = true
			subs = append(subs, s)
		}
	}
	return subs, nil
}

// checkTypeFilter accepts "message.delivered", "message.*" and
// "message.>": NATS tokens without spaces, wildcards only as whole tokens,
// '>' only last.
func checkTypeFilter(t string) error {
	bad := func(why string) error {
		return fmt.Errorf("events tail: --type %q: %s (e.g. message.delivered or message.*)", t, why)
	}
	if t == "" {
		return bad("empty")
	}
	toks := strings.Split(t, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return bad("empty token")
		case strings.ContainsAny(tok, " \t\r\n"):
			return bad("spaces")
		case tok == ">" && i != len(toks)-1:
			return bad("'>' must be last")
		case tok != "*" && tok != ">" && strings.ContainsAny(tok, "*>"):
			return bad("a wildcard must be a whole token")
		}
	}
	return nil
}

// tailEvents prints events of SMS_EVENTS matching o until ctx ends.
func tailEvents(ctx context.Context, js jetstream.JetStream, o tailOptions, w io.Writer) error {
	subs, err := tailSubjects(o.Account, o.Types)
	if err != nil {
		return err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return fmt.Errorf("events tail: stream %s: %w", events.StreamName, err)
	}
	cc := jetstream.OrderedConsumerConfig{FilterSubjects: subs, DeliverPolicy: jetstream.DeliverNewPolicy}
	switch {
	case o.All:
		cc.DeliverPolicy = jetstream.DeliverAllPolicy
	case o.Since > 0:
		start := o.Now().Add(-o.Since)
		cc.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cc.OptStartTime = &start
	}
	cons, err := stream.OrderedConsumer(ctx, cc)
	if err != nil {
		return fmt.Errorf("events tail: consumer: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("events tail: consume: %w", err)
	}
	// The iterator's Next blocks; ctx ending stops it from here. The
	// goroutine also ends when tailEvents returns on its own.
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			it.Stop()
		case <-done:
		}
	}()
	defer func() {
		close(done)
		<-stopped
		it.Stop()
	}()
	if o.Format == "table" {
		fmt.Fprintf(w, "%-24s  %-12s  %-20s  %-32s  %-16s  %s\n", "TIME", "ACCOUNT", "TYPE", "MESSAGE_ID", "TO", "STATUS")
	}
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("events tail: %w", err)
		}
		if err := writeEvent(w, o.Format, msg.Subject(), msg.Data()); err != nil {
			return err
		}
	}
}

func writeEvent(w io.Writer, format, subject string, data []byte) error {
	if format != "table" {
		line := append([]byte(strings.TrimSpace(string(data))), '\n')
		_, err := w.Write(line)
		return err
	}
	ev, err := events.Unmarshal(data)
	if err != nil {
		_, err = fmt.Fprintf(w, "%-24s  undecodable event on %s: %v\n", "-", subject, err)
		return err
	}
	account, _, _ := events.ParseSubject(subject)
	to := ev.Data.To
	if to == "" {
		to = ev.Data.Number
	}
	_, err = fmt.Fprintf(w, "%-24s  %-12s  %-20s  %-32s  %-16s  %s\n",
		ev.Timestamp.UTC().Format(events.TimeLayout), dash(account), ev.Type, dash(ev.Data.MessageID), dash(to), dash(ev.Data.Status))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
