package gateway

import (
	"time"

	"github.com/smsgw/smsgw/events"
)

func apiTestEvent(typ, id string, seq int) events.Event {
	e := events.New(typ, events.Data{MessageID: id, Sequence: seq})
	e.Timestamp = events.Time{Time: time.Now()}
	return e
}
