package simulator

import (
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// Stats are the simulator's counters. Counts of deliver_sm include
// retries; ReceiptsSent-ReceiptsRetried is the number of distinct receipt
// deliver_sm sent (duplicates from Faults.DuplicateReceipts count as
// distinct).
type Stats struct {
	Binds           int64            `json:"binds"`            // sessions bound now
	BindsTotal      int64            `json:"binds_total"`      // successful binds since start
	SubmitSM        int64            `json:"submit_sm"`        // submit_sm received, whatever the answer
	SubmitAccepted  int64            `json:"submit_accepted"`  // submit_sm accepted (see Messages)
	DeliverSM       int64            `json:"deliver_sm"`       // deliver_sm written (receipts and MO, retries included)
	ReceiptsSent    int64            `json:"receipts_sent"`    // receipt deliver_sm written, retries included
	ReceiptsAcked   int64            `json:"receipts_acked"`   // receipts answered ESME_ROK
	ReceiptsRetried int64            `json:"receipts_retried"` // receipts re-sent after an error, a timeout or a lost connection
	Throttled       int64            `json:"throttled"`        // submit_sm answered ESME_RTHROTTLED
	MOSent          int64            `json:"mo_sent"`          // MO deliver_sm written (one per part), retries included
	MOAcked         int64            `json:"mo_acked"`         // MO deliver_sm answered ESME_ROK
	MORetried       int64            `json:"mo_retried"`       // MO deliver_sm re-sent
	Queued          int64            `json:"queued"`           // deliver_sm waiting for a receiver bind or window
	PDUs            map[string]int64 `json:"pdus"`             // PDUs received, by command name
	PDUsSent        map[string]int64 `json:"pdus_sent"`        // PDUs written, by command name
}

// MO is a mobile-originated message to inject.
type MO struct {
	From string `json:"from"` // the handset, e.g. "+447700900123"
	To   string `json:"to"`   // the service: short code, number or alphanumeric
	Text string `json:"text"`
}

// Submitted is one accepted submit_sm (one part of a long message).
type Submitted struct {
	ID         string    `json:"id"` // as in submit_sm_resp; "" when never answered
	SystemID   string    `json:"system_id"`
	From       string    `json:"from"` // source_addr as received
	To         string    `json:"to"`   // destination_addr as received
	DataCoding byte      `json:"data_coding"`
	Text       string    `json:"text"`       // this part's user data, decoded
	PartRef    int       `json:"part_ref"`   // concatenation reference; 0 when not concatenated
	PartTotal  int       `json:"part_total"` // parts in the message; 0 when not concatenated
	PartSeq    int       `json:"part_seq"`   // this part, from 1; 0 when not concatenated
	At         time.Time `json:"at"`
}

type counters struct {
	binds, bindsTotal                       atomic.Int64
	submitSM, submitAccepted, deliverSM     atomic.Int64
	receiptsSent, receiptsAcked, receiptsRe atomic.Int64
	throttled                               atomic.Int64
	moSent, moAcked, moRe                   atomic.Int64
	queued                                  atomic.Int64
	rx, tx                                  [len(pduNames)]atomic.Int64
}

// pduNames lists the command names counted in Stats.PDUs; the last entry
// collects every other command_id.
var pduNames = [...]string{
	"generic_nack", "bind_receiver", "bind_receiver_resp", "bind_transmitter",
	"bind_transmitter_resp", "query_sm", "query_sm_resp", "submit_sm",
	"submit_sm_resp", "deliver_sm", "deliver_sm_resp", "unbind", "unbind_resp",
	"replace_sm", "replace_sm_resp", "cancel_sm", "cancel_sm_resp",
	"bind_transceiver", "bind_transceiver_resp", "outbind", "enquire_link",
	"enquire_link_resp", "submit_multi", "submit_multi_resp",
	"alert_notification", "data_sm", "data_sm_resp", "unknown",
}

var pduIndex = map[pdu.ID]int{
	pdu.GenericNACKID: 0, pdu.BindReceiverID: 1, pdu.BindReceiverRespID: 2,
	pdu.BindTransmitterID: 3, pdu.BindTransmitterRespID: 4, pdu.QuerySMID: 5,
	pdu.QuerySMRespID: 6, pdu.SubmitSMID: 7, pdu.SubmitSMRespID: 8,
	pdu.DeliverSMID: 9, pdu.DeliverSMRespID: 10, pdu.UnbindID: 11,
	pdu.UnbindRespID: 12, pdu.ReplaceSMID: 13, pdu.ReplaceSMRespID: 14,
	pdu.CancelSMID: 15, pdu.CancelSMRespID: 16, pdu.BindTransceiverID: 17,
	pdu.BindTransceiverRespID: 18, pdu.OutbindID: 19, pdu.EnquireLinkID: 20,
	pdu.EnquireLinkRespID: 21, pdu.SubmitMultiID: 22, pdu.SubmitMultiRespID: 23,
	pdu.AlertNotificationID: 24, pdu.DataSMID: 25, pdu.DataSMRespID: 26,
}

func pduSlot(id pdu.ID) int {
	if i, ok := pduIndex[id]; ok {
		return i
	}
	return len(pduNames) - 1
}

// knownCommand reports whether id is an SMPP 3.4 command_id.
func knownCommand(id pdu.ID) bool {
	_, ok := pduIndex[id]
	return ok
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.st
	st := Stats{
		Binds:           c.binds.Load(),
		BindsTotal:      c.bindsTotal.Load(),
		SubmitSM:        c.submitSM.Load(),
		SubmitAccepted:  c.submitAccepted.Load(),
		DeliverSM:       c.deliverSM.Load(),
		ReceiptsSent:    c.receiptsSent.Load(),
		ReceiptsAcked:   c.receiptsAcked.Load(),
		ReceiptsRetried: c.receiptsRe.Load(),
		Throttled:       c.throttled.Load(),
		MOSent:          c.moSent.Load(),
		MOAcked:         c.moAcked.Load(),
		MORetried:       c.moRe.Load(),
		Queued:          c.queued.Load(),
		PDUs:            map[string]int64{},
		PDUsSent:        map[string]int64{},
	}
	for i, name := range pduNames {
		if v := c.rx[i].Load(); v > 0 {
			st.PDUs[name] = v
		}
		if v := c.tx[i].Load(); v > 0 {
			st.PDUsSent[name] = v
		}
	}
	return st
}
