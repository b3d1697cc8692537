package simulator_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fiorix/go-smpp/smpp"
	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"

	"github.com/smsgw/smsgw/simulator"
)

// A test starts the simulator on 127.0.0.1:0, points its SMPP client at
// Addr, and checks what the simulator received and sent.
func Example() {
	ctx := context.Background()
	sim, err := simulator.Start(ctx, simulator.Config{
		ReceiptDelay: 10 * time.Millisecond,
		ReceiptRetry: 50 * time.Millisecond, // tests keep retries short
	})
	if err != nil {
		panic(err)
	}
	defer sim.Close()

	receipts := make(chan string, 1)
	tx := &smpp.Transceiver{
		Addr: sim.Addr(), User: "smsgw", Passwd: "secret",
		Handler: func(p pdu.Body) {
			if p.Header().ID == pdu.DeliverSMID {
				receipts <- p.Fields()[pdufield.ShortMessage].String()
			}
		},
	}
	if status := <-tx.Bind(); status.Status() != smpp.Connected {
		panic(status.Error())
	}
	defer tx.Close()

	// A destination ending in 1400 is a hard bounce (contract section 7).
	sm, err := tx.Submit(&smpp.ShortMessage{
		Src: "ACME", Dst: "+447700901400", Text: pdutext.Raw("Your code is 1234"),
		Register: pdufield.FinalDeliveryReceipt,
	})
	if err != nil {
		panic(err)
	}
	receipt := <-receipts
	fmt.Println(strings.Contains(receipt, "id:"+sm.RespID()), receipt[strings.Index(receipt, "stat:"):])

	// What the simulator received, decoded.
	msgs := sim.Messages()
	fmt.Println(len(msgs), msgs[0].To, msgs[0].Text)

	// Inject a reply from the handset.
	if err := sim.InjectMO(ctx, simulator.MO{From: "+447700901400", To: "ACME", Text: "STOP"}); err != nil {
		panic(err)
	}
	fmt.Println(<-receipts)

	st, _ := sim.WaitStats(ctx, func(st simulator.Stats) bool { return st.MOAcked == 1 })
	fmt.Println(st.SubmitSM, st.ReceiptsAcked, st.MOSent)
	// Output:
	// true stat:UNDELIV err:001 text:Your code is 1234
	// 1 +447700901400 Your code is 1234
	// STOP
	// 1 1 1
}
