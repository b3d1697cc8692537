package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/oklog/ulid/v2"
)

// seqEventID is the id of event number seq of a message (or of the inbound
// item named by key). It is derived, not random, so that two workers that
// race to publish the same event, or a worker that retries after a crash,
// produce the same id: JetStream's duplicate window (Nats-Msg-Id = event id)
// then stores it once and webhook receivers see one webhook-id.
//
// The time part is the message's creation time (so ids still sort roughly by
// time across messages) and the first two entropy bytes are seq (so a
// message's events sort in sequence order).
func seqEventID(key string, seq int, at time.Time) string {
	return "evt_" + seqULID(key, seq, at)
}

// seqMessageID is the derived id ("msg_…") of an inbound message, so a
// redelivered part yields the same message id as the first time.
func seqMessageID(key string, at time.Time) string {
	return "msg_" + seqULID(key+"/message", 0, at)
}

// seqULID is a ULID whose time part is at and whose entropy is seq followed
// by a hash of key.
func seqULID(key string, seq int, at time.Time) string {
	h := sha256.Sum256([]byte(key))
	var ent [10]byte
	binary.BigEndian.PutUint16(ent[:2], uint16(seq))
	copy(ent[2:], h[:8])
	ms := uint64(0)
	if !at.IsZero() && at.UnixMilli() > 0 {
		ms = uint64(at.UnixMilli())
	}
	id, err := ulid.New(ms, bytes.NewReader(ent[:]))
	if err != nil {
		// Only a time beyond year 10889 gets here; fall back to now.
		id = ulid.MustNew(ulid.Now(), bytes.NewReader(ent[:]))
	}
	return id.String()
}
