package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/smpp"
)

// inboundItem is a deliver_sm as stored in SMS_INBOUND: what the SMSC sent
// (parsed), which SMSC, and when it arrived.
type inboundItem struct {
	SMSC       string       `json:"smsc"`
	ReceivedAt time.Time    `json:"received_at"`
	Inbound    smpp.Inbound `json:"inbound"`
}

// deliverHandler is the smpp.Handler of SMSC name: it answers ESME_ROK only
// once the deliver_sm is stored in JetStream, and ESME_RX_T_APPN (the SMSC
// retries) when it could not be stored. A receipt for a part this instance
// knows is recorded at once (receiptNow); everything else is processed
// later, from the stream, on whichever instance takes it.
func (e *Engine) deliverHandler(name string) smpp.Handler {
	receiptSubj, moSubj := InboundReceiptSubject(engKeyPart(name)), InboundMOSubject(engKeyPart(name))
	return smpp.HandlerFunc(func(ctx context.Context, in smpp.Inbound) pdu.Status {
		if e.b.NC == nil || !e.b.NC.IsConnected() {
			// Fail fast: a publish would sit in the reconnect buffer and
			// might be stored after we told the SMSC to retry.
			return smpp.StatusRxTAppn
		}
		at := e.now().UTC()
		if in.IsReceipt && e.receiptNow(ctx, name, in, at) {
			return smpp.StatusOK
		}
		body, err := marshalInboundItem(&inboundItem{SMSC: name, ReceivedAt: at, Inbound: in})
		if err != nil {
			e.log.Error("gateway deliver_sm not encodable", "smsc", name, "err", err)
			return smpp.StatusRxPAppn
		}
		subj := moSubj
		if in.IsReceipt {
			subj = receiptSubj
		}
		pctx, cancel := context.WithTimeout(ctx, e.cfg.PublishTimeout)
		start := time.Now()
		m := &nats.Msg{Subject: subj, Data: body}
		if !in.IsReceipt {
			// An SMSC that missed our answer (a dropped connection) sends
			// the same MO again; the content-derived id lets JetStream keep
			// one (within SMS_INBOUND's duplicate window), so the reply is
			// one message.inbound, not two. Receipts need not: a repeated
			// receipt finds its part already final.
			m.Header = nats.Header{jetstream.MsgIDHeader: []string{moDedupeID(name, in)}}
		}
		_, err = e.b.Publish(pctx, m)
		cancel()
		e.m.publish.WithLabelValues("inbound").Observe(time.Since(start).Seconds())
		if err != nil {
			e.log.Warn("gateway deliver_sm not stored, answering ESME_RX_T_APPN", "smsc", name, "err", err)
			return smpp.StatusRxTAppn
		}
		return smpp.StatusOK
	})
}

// moDedupeID identifies an MO part by what the SMSC sent (it carries no id
// of its own): the same part sent again gets the same id. Two identical
// texts from one handset to one number within the window are kept as one
// (see docs/RELIABILITY.md).
func moDedupeID(smsc string, in smpp.Inbound) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%s\x00%d\x00%d\x00%d\x00%d\x00", smsc, in.From, in.FromTON, in.FromNPI, in.To, in.ToTON, in.ToNPI, in.DataCoding, in.ESMClass)
	if c := in.Concat; c != nil {
		fmt.Fprintf(h, "%d/%d/%d\x00", c.Ref, c.Total, c.Seq)
	}
	h.Write([]byte(in.Text))
	return "mo-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// handleInbound processes one stored deliver_sm.
func (e *Engine) handleInbound(ctx context.Context, msg jetstream.Msg) {
	var it inboundItem
	if err := unmarshalInboundItem(msg.Data(), &it); err != nil {
		e.log.Error("gateway inbound item unreadable, dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	md, _ := msg.Metadata()
	if it.Inbound.IsReceipt {
		e.handleReceipt(ctx, msg, md, &it)
		return
	}
	e.handleMO(ctx, msg, md, &it)
}

// moParts is a partly received concatenated message in sms_mo_parts.
type moParts struct {
	Parts map[string]string `json:"parts"` // seq → text
}

// handleMO reassembles a mobile-originated message, applies STOP/START and
// publishes message.inbound (and contact.* first for a keyword).
func (e *Engine) handleMO(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, it *inboundItem) {
	in := it.Inbound
	text := in.Text
	evKey := "mo/" + it.SMSC + "/" + it.ReceivedAt.Format(time.RFC3339Nano)
	if md != nil {
		evKey = fmt.Sprintf("mo/%s/%d", md.Stream, md.Sequence.Stream)
	}
	var partsKey string
	var partsRev uint64
	if c := in.Concat; c != nil && c.Total > 1 && c.Seq >= 1 && c.Seq <= c.Total {
		whole, complete, key, rev, err := e.moAddPart(ctx, it)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("gateway inbound part not stored, will retry", "smsc", it.SMSC, "err", err)
				_ = msg.NakWithDelay(e.cfg.ReceiptRetryMin)
			}
			return
		}
		if !complete {
			_ = msg.Ack()
			return
		}
		text, partsKey, partsRev = whole, key, rev
		// The same parts state completed by the same part gives the same
		// ids on a redelivery.
		evKey = fmt.Sprintf("mo/%s/%d", key, rev)
	}
	if err := e.publishMO(ctx, it, text, evKey); err != nil {
		if ctx.Err() == nil {
			e.log.Warn("gateway inbound not published, will retry", "smsc", it.SMSC, "err", err)
			_ = msg.NakWithDelay(e.cfg.ReceiptRetryMin)
		}
		return
	}
	if partsKey != "" {
		if err := e.kvMO.Purge(ctx, partsKey, jetstream.LastRevision(partsRev)); err != nil {
			// Left to expire (inbound.reassembly_timeout).
			e.log.Debug("gateway inbound parts not purged", "key", partsKey, "err", err)
		}
	}
	_ = msg.Ack()
}

// moAddPart adds it's part to its message's parts in sms_mo_parts (with
// optimistic concurrency: parts may be processed at once on several
// instances). When it is the last missing part it returns the whole text,
// complete, and the key and revision of the parts it completed; the
// completing part itself is not stored.
func (e *Engine) moAddPart(ctx context.Context, it *inboundItem) (string, bool, string, uint64, error) {
	c := it.Inbound.Concat
	key := strings.Join([]string{
		engKeyPart(it.SMSC), engKeyPart(it.Inbound.From), engKeyPart(it.Inbound.To),
		strconv.Itoa(int(c.Ref)), strconv.Itoa(int(c.Total)),
	}, ".")
	seq := strconv.Itoa(int(c.Seq))
	for try := 0; try < 50; try++ {
		var (
			p   moParts
			rev uint64
		)
		ent, err := e.kvMO.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return "", false, "", 0, fmt.Errorf("gateway: load inbound parts: %w", err)
		default:
			rev = ent.Revision()
			if err := json.Unmarshal(ent.Value(), &p); err != nil {
				p = moParts{} // unreadable: start over rather than block forever
			}
		}
		if p.Parts == nil {
			p.Parts = map[string]string{}
		}
		if _, dup := p.Parts[seq]; dup {
			return "", false, key, rev, nil
		}
		p.Parts[seq] = it.Inbound.Text
		if len(p.Parts) >= int(c.Total) {
			var b strings.Builder
			for i := 1; i <= int(c.Total); i++ {
				b.WriteString(p.Parts[strconv.Itoa(i)])
			}
			return b.String(), true, key, rev, nil
		}
		val, _ := json.Marshal(p)
		if rev == 0 {
			_, err = e.kvMO.Create(ctx, key, val)
		} else {
			_, err = e.kvMO.Update(ctx, key, val, rev)
		}
		if err == nil {
			return "", false, key, rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return "", false, "", 0, fmt.Errorf("gateway: store inbound part: %w", err)
		}
	}
	return "", false, "", 0, errors.New("gateway: store inbound part: too many conflicts")
}

// publishMO publishes the events of one whole inbound message: for a STOP
// or START keyword the suppression list is changed, then contact.* is
// published, then message.inbound.
func (e *Engine) publishMO(ctx context.Context, it *inboundItem, text, evKey string) error {
	in := it.Inbound
	from := moNumber(in.From, in.FromTON)
	to := moNumber(in.To, in.ToTON)
	account := e.moAccount(in.To)
	received := events.At(it.ReceivedAt)
	kind := "message"
	// Only a phone number can be on a suppression list.
	if account != events.UnassignedAccount && moNumberish(from) {
		kw := strings.ToUpper(strings.TrimSpace(text))
		var typ string
		switch {
		case e.stopKW[kw]:
			typ = events.ContactOptedOut
			if err := e.optouts.Add(ctx, account, from, kw); err != nil {
				return fmt.Errorf("gateway: opt out %s: %w", from, err)
			}
		case e.startKW[kw]:
			typ = events.ContactOptedIn
			if err := e.optouts.Remove(ctx, account, from); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("gateway: opt in %s: %w", from, err)
			}
		}
		if typ != "" {
			ev := events.Event{
				ID: seqEventID(evKey+"/"+typ, 1, it.ReceivedAt), Type: typ, Timestamp: events.Time{Time: e.now()},
				Data: events.Data{Number: from, Keyword: kw, ReceivedAt: received, Sequence: 1},
			}
			if err := e.publishAccountEvent(ctx, account, ev, nil); err != nil {
				return err
			}
			kind = map[string]string{events.ContactOptedOut: "opt_out", events.ContactOptedIn: "opt_in"}[typ]
		}
	}
	var replyTo string
	if account != events.UnassignedAccount {
		ent, err := e.kvLast.Get(ctx, engLastSentKey(account, from))
		switch {
		case err == nil:
			replyTo = string(ent.Value())
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return fmt.Errorf("gateway: look up last sent: %w", err)
		}
	}
	ev := events.Event{
		ID: seqEventID(evKey, 1, it.ReceivedAt), Type: events.MessageInbound, Timestamp: events.Time{Time: e.now()},
		Data: events.Data{
			MessageID: seqMessageID(evKey, it.ReceivedAt), From: from, To: to, Text: text,
			ReceivedAt: received, InReplyTo: replyTo, SMSC: it.SMSC, Sequence: 1,
		},
	}
	if err := e.publishAccountEvent(ctx, account, ev, nil); err != nil {
		return err
	}
	e.m.inbound.WithLabelValues(it.SMSC, kind).Inc()
	return nil
}

// moAccount is the account that owns destination to: the one whose sender
// or numbers equal it, else inbound.default_account, else unassigned.
func (e *Engine) moAccount(to string) string {
	if a, ok := e.accounts[moAddrKey(to)]; ok {
		return a
	}
	if d := e.cfg.Config.Inbound.DefaultAccount; d != "" {
		return d
	}
	return events.UnassignedAccount
}

// moAddrKey compares addresses the way operators write them: "+" optional,
// case-insensitive for alphanumeric senders.
func moAddrKey(addr string) string {
	return strings.ToUpper(strings.TrimPrefix(strings.TrimSpace(addr), "+"))
}

// moNumber writes an address received from the SMSC as +E.164 when it is
// international digits (TON 1, or already with '+'); anything else
// (national numbers, short codes, alphanumeric) is kept as received.
func moNumber(addr string, ton uint8) string {
	addr = strings.TrimSpace(addr)
	if ton == 1 && moDigits(addr) {
		return "+" + addr
	}
	return addr
}

func moDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func moNumberish(s string) bool { return moDigits(strings.TrimPrefix(s, "+")) }
