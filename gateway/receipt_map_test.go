package gateway

import (
	"testing"

	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

func TestRcptOutcome(t *testing.T) {
	rules := []config.ErrorRule{
		{Stat: "undeliv", Err: "034", Category: events.HardBounce}, // operator says 34 is permanent on this SMSC
		{Stat: "EXPIRED", Category: events.UnknownBounce},
		{Stat: "REJECTD", Err: "", Category: "not-a-category"}, // ignored: falls through to defaults
	}
	cases := []struct {
		rules     []config.ErrorRule
		stat, err string
		delivered bool
		category  string
	}{
		{nil, "DELIVRD", "000", true, ""},
		{nil, "delivrd", "", true, ""},
		{nil, "UNDELIV", "001", false, events.HardBounce},
		{nil, "UNDELIV", "1", false, events.HardBounce},
		{nil, "UNDELIV", "0001", false, events.HardBounce},
		{nil, "UNDELIV", "005", false, events.HardBounce},
		{nil, "UNDELIV", "011", false, events.HardBounce},
		{nil, "UNDELIV", "027", false, events.SoftBounce},
		{nil, "UNDELIV", "000", false, events.SoftBounce},
		{nil, "UNDELIV", "", false, events.SoftBounce},
		{nil, "EXPIRED", "027", false, events.SoftBounce},
		{nil, "REJECTD", "000", false, events.CarrierViolation},
		{nil, "DELETED", "000", false, events.UnknownBounce},
		{nil, "UNKNOWN", "000", false, events.UnknownBounce},
		{nil, "FAILED", "069", false, events.UnknownBounce},
		{nil, "WEIRD", "", false, events.UnknownBounce},
		{rules, "UNDELIV", "34", false, events.HardBounce},
		{rules, "UNDELIV", "027", false, events.SoftBounce},
		{rules, "UNDELIV", "001", false, events.HardBounce},
		{rules, "EXPIRED", "027", false, events.UnknownBounce},
		{rules, "REJECTD", "000", false, events.CarrierViolation},
		{rules, "DELIVRD", "000", true, ""},
	}
	for _, c := range cases {
		d, cat := rcptOutcome(c.rules, c.stat, c.err)
		if d != c.delivered || cat != c.category {
			t.Errorf("rcptOutcome(%d rules, %q, %q) = %v, %q; want %v, %q", len(c.rules), c.stat, c.err, d, cat, c.delivered, c.category)
		}
	}
}

func TestRcptNormErr(t *testing.T) {
	for in, want := range map[string]string{"001": "1", "1": "1", "000": "0", "0": "0", "": "", " 027 ": "27", "100": "100"} {
		if got := rcptNormErr(in); got != want {
			t.Errorf("rcptNormErr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRcptMessageOutcome(t *testing.T) {
	e := &Engine{errorMap: map[string][]config.ErrorRule{}}
	cases := []struct {
		name   string
		parts  []PartState
		status string
		reason *events.Reason
	}{
		{"all delivered", []PartState{{Final: true, Delivered: true, Stat: "DELIVRD"}, {Final: true, Delivered: true, Stat: "DELIVRD"}}, StatusDelivered, nil},
		{"first failing part wins", []PartState{
			{Final: true, Delivered: true, Stat: "DELIVRD"},
			{Final: true, Stat: "EXPIRED", Err: "027"},
			{Final: true, Stat: "UNDELIV", Err: "001"},
		}, StatusUndelivered, events.NewReason(events.SoftBounce, "EXPIRED", "027")},
		{"single hard bounce", []PartState{{Final: true, Stat: "UNDELIV", Err: "001"}}, StatusUndelivered, events.NewReason(events.HardBounce, "UNDELIV", "001")},
	}
	for _, c := range cases {
		st, r := e.rcptMessageOutcome("a", &Message{PartStates: c.parts})
		if st != c.status || (r == nil) != (c.reason == nil) || (r != nil && *r != *c.reason) {
			t.Errorf("%s: %q %+v, want %q %+v", c.name, st, r, c.status, c.reason)
		}
	}
}
