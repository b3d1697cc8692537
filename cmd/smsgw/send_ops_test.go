package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/simulator"
)

// TestSendCSVAgainstServe is issue 7's CLI acceptance against the real
// `smsgw serve` command (not an in-process stand-in): `smsgw send --file`
// on a 1,000-line CSV with a rate limit; the summary counts 990 accepted
// and 10 refused with their reasons, and the 990 reach the SMSC.
func TestSendCSVAgainstServe(t *testing.T) {
	sim, err := simulator.Start(t.Context(), simulator.Config{
		Credentials:  []simulator.Credential{{SystemID: "smsgw", Password: opsSMSCPass}},
		ReceiptDelay: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	st := startOpsStack(t, sim.Addr(), "")

	var b strings.Builder
	b.WriteString("to,text,metadata.row\n")
	for i := range 1000 {
		to, text := fmt.Sprintf("+4477009%05d", i), fmt.Sprintf("\"Your order %d shipped, thanks\"", i)
		switch {
		case i%100 == 7 && i < 500:
			to = "07700900123" // national: refused
		case i%100 == 7:
			text = "" // refused
		}
		fmt.Fprintf(&b, "%s,%s,%d\n", to, text, i)
	}
	in := filepath.Join(t.TempDir(), "orders.csv")
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stdout, stderr, err := runCLI(t, "send", "--file", in, "--rate", "2000",
		"--api-url", st.base, "--api-key", opsAPIKey)
	if exitOf(err) != exitRefused {
		t.Fatalf("exit %d (%v), want %d (some refused)\n%s\n%s", exitOf(err), err, exitRefused, stdout, stderr)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("1,000 messages at --rate 2000 took %v: the rate limit was not applied", took)
	}
	for _, want := range []string{"1000 messages", "990 accepted, 10 refused", "     5  400 to: ", "     5  400 text: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := sim.WaitMessages(ctx, 990); err != nil {
		t.Fatalf("the SMSC got %d of 990 messages: %v", len(sim.Messages()), err)
	}
}
