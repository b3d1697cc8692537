package loadtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/client"
	"github.com/smsgw/smsgw/loadtest/stacktest"
)

func startStack(t *testing.T) (*stacktest.Stack, *client.Client) {
	t.Helper()
	s, err := stacktest.Start(context.Background(), stacktest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	c, err := client.New(client.Config{BaseURL: s.URL, APIKey: stacktest.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// csv1000 is a 1,000-line CSV (plus header) whose lines 1 in 100 are bad:
// 6 national numbers, 4 without text → 990 accepted, 10 refused.
func csv1000() string {
	var b strings.Builder
	b.WriteString("to,text,metadata.row\n")
	for i := range 1000 {
		to, text := fmt.Sprintf("+4477009%05d", i), "hello "+fmt.Sprint(i)
		switch {
		case i%100 == 7 && i < 600:
			to = "07700900123"
		case i%100 == 7:
			text = ""
		}
		fmt.Fprintf(&b, "%s,%s,%d\n", to, text, i)
	}
	return b.String()
}

func TestSendCSVAgainstGateway(t *testing.T) {
	_, c := startStack(t)
	items, err := ReadItems(strings.NewReader(csv1000()), CSV)
	if err != nil || len(items) != 1000 {
		t.Fatalf("ReadItems: %d items, %v", len(items), err)
	}
	for _, batch := range []int{0, 100} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			var mu sync.Mutex
			byLine := map[int]Result{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			sum, err := Send(ctx, SendConfig{Client: c, Concurrency: 8, Batch: batch, OnResult: func(r Result) {
				mu.Lock()
				defer mu.Unlock()
				if _, dup := byLine[r.Line]; dup {
					t.Errorf("line %d reported twice", r.Line)
				}
				byLine[r.Line] = r
			}}, items)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if sum.Total != 1000 || sum.Accepted != 990 || sum.Refused != 10 || sum.Errors != 0 || sum.Skipped != 0 || sum.OK() {
				t.Fatalf("summary %+v", sum)
			}
			reasons := sum.SortedReasons()
			if len(reasons) != 2 || reasons[0].Count != 6 || !strings.HasPrefix(reasons[0].Reason, "400 to:") ||
				reasons[1].Count != 4 || !strings.HasPrefix(reasons[1].Reason, "400 text:") {
				t.Fatalf("reasons %+v", reasons)
			}
			if len(byLine) != 1000 {
				t.Fatalf("%d lines reported", len(byLine))
			}
			// Line n+2 holds row n (header is line 1).
			if r := byLine[7+2]; r.Accepted() || r.Problem == nil || r.Problem.Errors[0].Field != "to" {
				t.Fatalf("line 9: %+v", r)
			}
			if r := byLine[2]; !r.Accepted() || !strings.HasPrefix(r.MessageID, "msg_") || r.End.Before(r.Start) {
				t.Fatalf("line 2: %+v", r)
			}
		})
	}
}

func TestSendRateAndLineErrors(t *testing.T) {
	_, c := startStack(t)
	items := []Item{{Line: 1, Err: &LineError{Line: 1, Err: errors.New("has 3 fields")}}}
	for i := range 30 {
		items = append(items, Item{Line: i + 2, Req: client.SubmitRequest{To: fmt.Sprintf("+44770090%04d", i), Text: "r"}})
	}
	start := time.Now()
	sum, err := Send(context.Background(), SendConfig{Client: c, Rate: 100, Concurrency: 4}, items)
	if err != nil {
		t.Fatal(err)
	}
	// 30 messages at 100/s with a burst of 1 take at least ~290 ms.
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("30 messages at 100/s took %v", el)
	}
	if sum.Accepted != 30 || sum.Refused != 1 || sum.Reasons["invalid line: has 3 fields"] != 1 {
		t.Fatalf("summary %+v", sum)
	}
}

func TestSendCancelledAndConnectionErrors(t *testing.T) {
	items := make([]Item, 20)
	for i := range items {
		items[i] = Item{Line: i + 1, Req: client.SubmitRequest{To: "+447700900123", Text: "x"}}
	}
	dead, _ := client.New(client.Config{BaseURL: "http://127.0.0.1:1", Timeout: time.Second})
	sum, err := Send(context.Background(), SendConfig{Client: dead, Batch: 5}, items)
	if err != nil || sum.Errors != 20 || sum.Accepted != 0 || len(sum.Reasons) != 1 {
		t.Fatalf("dead server: %+v, %v", sum, err)
	}
	for r := range sum.Reasons {
		if !strings.HasPrefix(r, "no answer:") {
			t.Fatalf("reason %q", r)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum, err = Send(ctx, SendConfig{Client: dead}, items)
	if !errors.Is(err, context.Canceled) || sum.Skipped+sum.Errors != 20 || sum.Skipped == 0 {
		t.Fatalf("cancelled: %+v, %v", sum, err)
	}

	for _, cfg := range []SendConfig{{}, {Client: dead, Batch: 1001}, {Client: dead, Batch: -1}, {Client: dead, Rate: -1}} {
		if _, err := Send(context.Background(), cfg, items); !errors.Is(err, ErrConfig) {
			t.Errorf("config %+v: %v, want ErrConfig", cfg, err)
		}
	}
}
