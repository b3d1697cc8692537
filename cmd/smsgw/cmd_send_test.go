package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsgw/smsgw/loadtest/stacktest"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut syncBuffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err = cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func exitOf(err error) int {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}

// TestSendFileAcceptance (issue 7): `smsgw send` on a 1,000-line CSV
// against an in-process gateway+bridge: 990 accepted, 10 refused with
// their reasons, one result line per input line.
func TestSendFileAcceptance(t *testing.T) {
	s, err := stacktest.Start(context.Background(), stacktest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("to,text,metadata.row\n")
	for i := range 1000 {
		to, text := fmt.Sprintf("+4477009%05d", i), fmt.Sprintf("hello %d", i)
		switch {
		case i%100 == 50 && i < 700:
			to = "07700900123" // national: refused
		case i%100 == 50:
			text = "" // refused
		}
		fmt.Fprintf(&b, "%s,%s,%d\n", to, text, i)
	}
	in := filepath.Join(dir, "msgs.csv")
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(dir, "results.jsonl")
	stdout, _, err := runCLI(t, "send", "--file", in, "--batch", "250", "--concurrency", "4",
		"--api-url", s.URL, "--api-key", stacktest.APIKey, "--out", outPath)
	if exitOf(err) != exitRefused {
		t.Fatalf("exit %d (%v), want %d\n%s", exitOf(err), err, exitRefused, stdout)
	}
	if !strings.Contains(stdout, "1000 messages") || !strings.Contains(stdout, "990 accepted, 10 refused") {
		t.Fatalf("summary:\n%s", stdout)
	}
	if !strings.Contains(stdout, "     7  400 to: ") || !strings.Contains(stdout, "     3  400 text: ") {
		t.Fatalf("reasons:\n%s", stdout)
	}

	f, err := os.Open(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, accepted := 0, 0
	for sc.Scan() {
		var l sendResultLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		n++
		if l.Line != n+1 {
			t.Fatalf("result %d is for line %d, want %d (input order)", n, l.Line, n+1)
		}
		switch {
		case l.Status == 202 && strings.HasPrefix(l.MessageID, "msg_"):
			accepted++
		case l.Status == 400 && l.Error != "" && l.Problem != nil:
			if (l.Line-2)%100 != 50 {
				t.Fatalf("line %d refused: %+v", l.Line, l)
			}
		default:
			t.Fatalf("result %+v", l)
		}
	}
	if n != 1000 || accepted != 990 {
		t.Fatalf("%d result lines, %d accepted", n, accepted)
	}
}

func TestSendSingleAndUsage(t *testing.T) {
	s, err := stacktest.Start(context.Background(), stacktest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	t.Setenv("SMSGW_API_URL", s.URL)
	t.Setenv("SMSGW_API_KEY", stacktest.APIKey)

	stdout, _, err := runCLI(t, "send", "--to", "+447700900123", "--text", "hi", "--metadata", "a=1")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	var m struct {
		ID, Status string
		Metadata   map[string]string
	}
	if err := json.Unmarshal([]byte(stdout), &m); err != nil || !strings.HasPrefix(m.ID, "msg_") || m.Status != "accepted" || m.Metadata["a"] != "1" {
		t.Fatalf("answer %q: %+v %v", stdout, m, err)
	}

	stdout, _, err = runCLI(t, "send", "--to", "0770", "--text", "hi")
	if exitOf(err) != exitRefused || !strings.Contains(stdout, `"status": 400`) || !strings.Contains(err.Error(), "to:") {
		t.Fatalf("refused: exit %d %v\n%s", exitOf(err), err, stdout)
	}

	dir := t.TempDir()
	jsonl := filepath.Join(dir, "m.jsonl")
	_ = os.WriteFile(jsonl, []byte(`{"to":"+447700900123","text":"a"}`+"\n"+`{"to":"+447700900124","txt":"b"}`+"\n"), 0o600)
	stdout, _, err = runCLI(t, "send", "--file", jsonl, "-q")
	if exitOf(err) != exitRefused || !strings.Contains(stdout, "1 accepted, 1 refused") || !strings.Contains(stdout, `invalid line: json: unknown field "txt"`) {
		t.Fatalf("jsonl: exit %d %v\n%s", exitOf(err), err, stdout)
	}

	usage := [][]string{
		{"send"},
		{"send", "--to", "+1", "--file", jsonl},
		{"send", "--file", jsonl, "--text", "x"},
		{"send", "--file", filepath.Join(dir, "missing.csv")},
		{"send", "--file", filepath.Join(dir, "x.txt")},
		{"send", "--file", "-"},
		{"send", "--file", jsonl, "--batch", "1001"},
		{"send", "--to", "+447700900123", "--text", "x", "--api-url", "127.0.0.1:1"},
		{"send", "--to", "+447700900123", "--text", "x", "--api-url", "http://127.0.0.1:1"},
	}
	for _, args := range usage {
		if _, _, err := runCLI(t, args...); exitOf(err) != exitUsage {
			t.Errorf("%q: exit %d (%v), want %d", args, exitOf(err), err, exitUsage)
		}
	}
}

func TestBenchServe(t *testing.T) {
	t.Chdir(t.TempDir())
	stdout, stderr, err := runCLI(t, "bench", "--serve", "--n", "300", "--batch", "100", "--json", "--wait", "15s")
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, stdout, stderr)
	}
	var rep struct {
		N, Accepted, Lost int
		Latency           struct{ Count int }
		PeakRSS           int64   `json:"gateway_peak_rss_bytes"`
		E2EPerSec         float64 `json:"e2e_per_sec"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report %q: %v", stdout, err)
	}
	if rep.N != 300 || rep.Accepted != 300 || rep.Lost != 0 || rep.Latency.Count != 300 || rep.PeakRSS <= 0 || rep.E2EPerSec <= 0 {
		t.Fatalf("report %+v\n%s", rep, stdout)
	}
	if _, _, err := runCLI(t, "bench", "--serve", "--api-url", "http://x"); exitOf(err) != exitUsage {
		t.Fatalf("--serve with --api-url: %v", err)
	}
}
