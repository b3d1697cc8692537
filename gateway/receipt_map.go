package gateway

import (
	"strings"

	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

// rcptHardErrs are receipt err codes (as numbers, leading zeros ignored)
// that mean a permanent network error by default: the subscriber does not
// exist or cannot receive SMS at all. They are the GSM MAP error values
// carriers copy into err: 1 unknown subscriber, 5 unidentified subscriber,
// 9 illegal subscriber, 11 teleservice not provisioned, 12 illegal
// equipment. Everything else (27 absent subscriber, 13 call barred, 34
// system failure, …) may clear up, so it is a soft bounce.
var rcptHardErrs = map[string]bool{"1": true, "5": true, "9": true, "11": true, "12": true}

// rcptNormErr trims leading zeros so "001", "01" and "1" compare equal; an
// all-zero code is "0".
func rcptNormErr(e string) string {
	e = strings.TrimSpace(e)
	t := strings.TrimLeft(e, "0")
	if t == "" && e != "" {
		return "0"
	}
	return t
}

// rcptOutcome maps one final receipt to its result: delivered, or a bounce
// category. It is a pure function of the SMSC's error_map rules (first match
// wins) and the contract's defaults.
func rcptOutcome(rules []config.ErrorRule, stat, errCode string) (delivered bool, category string) {
	stat = strings.ToUpper(strings.TrimSpace(stat))
	if stat == "DELIVRD" {
		return true, ""
	}
	ne := rcptNormErr(errCode)
	for _, r := range rules {
		if !strings.EqualFold(strings.TrimSpace(r.Stat), stat) {
			continue
		}
		if r.Err != "" && rcptNormErr(r.Err) != ne {
			continue
		}
		if _, ok := events.BounceCode[r.Category]; ok {
			return false, r.Category
		}
	}
	switch stat {
	case "UNDELIV":
		if rcptHardErrs[ne] {
			return false, events.HardBounce
		}
		return false, events.SoftBounce
	case "EXPIRED":
		return false, events.SoftBounce
	case "REJECTD":
		return false, events.CarrierViolation
	default: // DELETED, UNKNOWN, FAILED and anything unrecognised
		return false, events.UnknownBounce
	}
}
