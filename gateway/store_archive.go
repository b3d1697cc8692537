package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/smsgw/smsgw/bus"
)

// Final records leave the hot buckets (docs/NATS.md, "Hot and cold
// records"). While a message is not final its record lives in
// BucketMessages, where the engine updates it with optimistic concurrency.
// When it becomes final the record is appended to RecordsStream first and
// then written to BucketMessages one last time with a per-message TTL
// (messages.final_record_ttl), so the bucket, and the JetStream per-subject
// index that every retained key costs in memory, holds only the messages in
// flight plus the last minute's finals. GET /v1/messages/{id} reads
// BucketMessages first and the archive after.
const (
	// RecordsStream archives every final record for 30 days (limits
	// retention), the retention sms_messages has.
	RecordsStream = "SMS_RECORDS"
	// RecordsSubjects is what RecordsStream captures:
	// sms.records.<account>.<creation hour>.<bucket> (see recordSubject).
	RecordsSubjects = "sms.records.>"
	// RecordsRetention is how long archived records are kept.
	RecordsRetention = 30 * 24 * time.Hour

	// recordIDHeader carries the message id of an archived record, so a
	// lookup compares a header instead of decoding every record it passes.
	recordIDHeader = "Smsgw-Message-Id"
	// recordBuckets spreads one account's records of one creation hour over
	// this many subjects: a lookup walks only its bucket.
	recordBuckets = 64
	// recordSkew is how far before a message's creation time (the id's
	// ULID time, the accepting instance's clock) a lookup starts: the
	// archive's timestamps are the NATS server's clock.
	recordSkew = 30 * time.Second
	// recordMaxScan bounds the records one lookup walks past. A bucket of
	// one account and creation hour holds 3,600·rate/64 records (56,250 at
	// 1,000 msg/s): only above ~1,800 msg/s per account can a lookup stop
	// short; it logs when it does.
	recordMaxScan = 100_000
	// recordBatch and recordBatchBytes bound one direct-get batch.
	recordBatch      = 256
	recordBatchBytes = 1 << 20
)

// RecordsStreamConfig is the configuration of RecordsStream. The API's
// store and the engine both create it with this.
func RecordsStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        RecordsStream,
		Description: "final message records, by account, creation hour and id hash",
		Subjects:    []string{RecordsSubjects},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      RecordsRetention,
		// Lookups are direct gets (any replica answers, no consumer).
		AllowDirect: true,
		// No Nats-Msg-Id is used: a record appended twice (a write retried
		// after a conflict) is harmless, and a dedupe window would hold
		// every id in memory.
		Duplicates: time.Second,
	}
}

// recordCreated is the creation time encoded in a message id ("msg_" +
// ULID, events.NewMessageID).
func recordCreated(id string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(id, "msg_")
	if !ok {
		return time.Time{}, false
	}
	u, err := ulid.ParseStrict(rest)
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(u.Time()), true
}

// recordHour and recordBucket are the last two tokens of a record's
// subject: the UTC hour its id was created in, and a hash of the id.
func recordHour(created time.Time) string { return created.UTC().Format("2006010215") }

func recordBucket(id string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return strconv.Itoa(int(h.Sum32() % recordBuckets))
}

// recordSubject is where the final record of message id of account is
// archived. The per-subject index of RecordsStream holds at most accounts
// × 64 × 720 entries (30 days of creation hours), whatever the rate; the
// creation hour also bounds how many records a lookup can walk.
func recordSubject(account, id string, created time.Time) string {
	return "sms.records." + account + "." + recordHour(created) + "." + recordBucket(id)
}

// directGetRequest is JetStream's direct get request (nats-server ≥ 2.11
// for batches and start_time).
type directGetRequest struct {
	Seq       uint64     `json:"seq,omitempty"`
	NextFor   string     `json:"next_by_subj,omitempty"`
	Batch     int        `json:"batch,omitempty"`
	MaxBytes  int        `json:"max_bytes,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
}

// errArchiveScanLimited is wrapped, with ErrNotFound, by a lookup that gave
// up after maxScan records.
var errArchiveScanLimited = errors.New("archive lookup walked its limit")

// archiveLookup finds the archived final record of id in RecordsStream:
// it walks the subject of id's account (any: the caller checks the
// account), creation hour and bucket from just before id's creation time,
// in batches of direct gets, until the record with that id or the end of
// the stream. It returns ErrNotFound when there is none, and also when
// maxScan records were passed without it (wrapping errArchiveScanLimited).
func archiveLookup(ctx context.Context, nc *nats.Conn, id string, maxScan int) (*Message, error) {
	created, ok := recordCreated(id)
	if !ok {
		return nil, ErrNotFound
	}
	if nc == nil {
		return nil, fmt.Errorf("gateway: archive lookup: %w: no nats connection", ErrUnavailable)
	}
	filter := "sms.records.*." + recordHour(created) + "." + recordBucket(id)
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("gateway: archive lookup: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	start := created.Add(-recordSkew)
	req := directGetRequest{NextFor: filter, Batch: recordBatch, MaxBytes: recordBatchBytes, StartTime: &start}
	scanned := 0
	for {
		body, err := json.Marshal(req)
		if err != nil { // a time JSON cannot hold (year > 9999): no such record
			return nil, ErrNotFound
		}
		if err := nc.PublishRequest("$JS.API.DIRECT.GET."+RecordsStream, inbox, body); err != nil {
			return nil, fmt.Errorf("gateway: archive lookup: %w", err)
		}
		var last uint64
		more := false
	batch:
		for {
			m, err := sub.NextMsgWithContext(ctx)
			if err != nil {
				return nil, fmt.Errorf("gateway: archive lookup: %w", err)
			}
			switch st := m.Header.Get("Status"); st {
			case "": // a record
				scanned++
				if seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64); err == nil {
					last = seq
				}
				if m.Header.Get(recordIDHeader) != id {
					continue
				}
				rec, err := UnmarshalMessage(m.Data)
				if err != nil {
					return nil, err
				}
				if rec.ID != id {
					continue
				}
				return rec, nil
			case "204": // end of this batch
				more = m.Header.Get("Nats-Num-Pending") != "0" && last > 0
				break batch
			case "404": // nothing (more) on this subject
				return nil, ErrNotFound
			default:
				return nil, fmt.Errorf("gateway: archive lookup: %w: direct get answered %s %s",
					ErrUnavailable, st, m.Header.Get("Description"))
			}
		}
		if !more {
			return nil, ErrNotFound
		}
		if scanned >= maxScan {
			return nil, fmt.Errorf("%w: %w after %d records", ErrNotFound, errArchiveScanLimited, scanned)
		}
		req = directGetRequest{Seq: last + 1, NextFor: filter, Batch: recordBatch, MaxBytes: recordBatchBytes}
	}
}

// archivedMessage is archiveLookup for the API's store and the engine: a
// lookup that gave up is logged and answered not found.
func archivedMessage(ctx context.Context, nc *nats.Conn, id string, log *slog.Logger) (*Message, error) {
	m, err := archiveLookup(ctx, nc, id, recordMaxScan)
	if errors.Is(err, errArchiveScanLimited) {
		log.Warn("gateway archive lookup gave up; answering not found", "message_id", id, "err", err)
	}
	return m, err
}

// openTTLBucket is Bus.KV for a bucket whose final entries are written
// with a per-message TTL: it creates the bucket (or brings an existing
// one to cfg's description, TTL, history and replicas, as Bus.KV would)
// and enables per-message TTLs on its stream. Bus.KV alone would fail
// once they are enabled: it would try to turn them off again, which
// JetStream refuses. ok reports whether the server took them (nats-server
// ≥ 2.11; an older one keeps every entry for the bucket's TTL, as before).
func openTTLBucket(ctx context.Context, b *bus.Bus, cfg jetstream.KeyValueConfig) (kv jetstream.KeyValue, ok bool, err error) {
	kv, err = b.JS.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		if kv, err = b.KV(ctx, cfg); err != nil {
			// Another process may have created it (and enabled TTLs)
			// meanwhile: open that one.
			var oerr error
			if kv, oerr = b.JS.KeyValue(ctx, cfg.Bucket); oerr != nil {
				return nil, false, err
			}
		}
	} else if err != nil {
		return nil, false, fmt.Errorf("gateway: bucket %s: %w", cfg.Bucket, err)
	}
	ok, err = enableMsgTTL(ctx, b, "KV_"+cfg.Bucket, func(sc *jetstream.StreamConfig) {
		sc.Description = cfg.Description
		sc.MaxAge = cfg.TTL
		if cfg.History > 0 {
			sc.MaxMsgsPerSubject = int64(cfg.History)
		}
		if r := b.Replicas(); r > 0 {
			sc.Replicas = r
		}
	})
	if err != nil {
		return nil, false, err
	}
	return kv, ok, nil
}

// enableMsgTTL turns on per-message TTLs (AllowMsgTTL, without subject
// delete markers: an expired final entry just goes) on stream name,
// applying patch (may be nil) in the same update. It reports whether the
// server has them on afterwards.
func enableMsgTTL(ctx context.Context, b *bus.Bus, name string, patch func(*jetstream.StreamConfig)) (bool, error) {
	s, err := b.JS.Stream(ctx, name)
	if err != nil {
		return false, fmt.Errorf("gateway: stream %s: %w", name, err)
	}
	cur := s.CachedInfo().Config
	want := cur
	want.AllowMsgTTL = true
	if patch != nil {
		patch(&want)
	}
	if cur.AllowMsgTTL && want.Description == cur.Description && want.MaxAge == cur.MaxAge &&
		want.MaxMsgsPerSubject == cur.MaxMsgsPerSubject && want.Replicas == cur.Replicas {
		return true, nil
	}
	s, err = b.JS.UpdateStream(ctx, want)
	if err != nil {
		return false, fmt.Errorf("gateway: stream %s: enable per-message TTL: %w", name, err)
	}
	return s.CachedInfo().Config.AllowMsgTTL, nil
}
