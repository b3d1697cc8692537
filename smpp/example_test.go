package smpp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"

	"github.com/smsgw/smsgw/simulator"
	"github.com/smsgw/smsgw/smpp"
)

// ExampleSMSC binds to an SMSC (here the bundled simulator), submits a
// message and answers its delivery receipt only once it is "stored".
func ExampleSMSC() {
	ctx := context.Background()
	sim, err := simulator.Start(ctx, simulator.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()

	receipts := make(chan smpp.Receipt, 1)
	s, err := smpp.New(smpp.Config{
		Name:     "carrier-a",
		Addr:     sim.Addr(),
		SystemID: "smsgw",
		Password: "secret",
		Window:   64,
		Handler: smpp.HandlerFunc(func(ctx context.Context, in smpp.Inbound) pdu.Status {
			if !in.IsReceipt {
				return smpp.StatusOK
			}
			select {
			case receipts <- in.Receipt: // "stored": acknowledge
				return smpp.StatusOK
			case <-ctx.Done(): // could not store: the SMSC will retry
				return smpp.StatusRxTAppn
			}
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = s.Close(closeCtx)
	}()
	for !s.Bound() { // a real gateway routes elsewhere meanwhile
		time.Sleep(10 * time.Millisecond)
	}

	res, err := s.Submit(ctx, smpp.Message{From: "ACME", To: "+447700900123", Text: "Your code is 1234"})
	if err != nil {
		var se *smpp.SubmitError
		if errors.As(err, &se) && se.Temporary {
			log.Printf("retry later: %v", err)
		}
		log.Fatal(err)
	}
	fmt.Println("parts:", len(res.Parts), "encoding:", res.Encoding)

	rc := <-receipts
	fmt.Println("receipt matches:", smpp.IDKey(rc.ID, smpp.IDAuto) == smpp.IDKey(res.Parts[0].MessageID, smpp.IDAuto))
	fmt.Println("stat:", rc.Stat, "delivered:", rc.Delivered)
	// Output:
	// parts: 1 encoding: gsm7
	// receipt matches: true
	// stat: DELIVRD delivered: true
}
