package jsonx

import (
	"encoding/json"
	"testing"
	"time"
)

func checkTime(t *testing.T, tm time.Time) {
	t.Helper()
	if TimeOK(tm) {
		want, err := json.Marshal(tm)
		if got := AppendTime(nil, tm); err != nil || string(got) != string(want) {
			t.Fatalf("AppendTime(%v) = %s, want %s (%v)", tm, got, want, err)
		}
	}
	want := tm.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	if got := AppendUTCMillis(nil, tm); string(got) != want {
		t.Fatalf("AppendUTCMillis(%v) = %s, want %s", tm, got, want)
	}
}

func TestTimes(t *testing.T) {
	for _, tm := range []time.Time{
		{}, time.Date(2026, 11, 22, 10, 0, 4, 123456789, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 1, 0, 0, 0, 5e8, time.FixedZone("x", 3600)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.Local),
	} {
		checkTime(t, tm)
	}
}

func FuzzTimes(f *testing.F) {
	f.Add(int64(1_700_000_000), int64(123456789), 0)
	f.Fuzz(func(t *testing.T, sec, nsec int64, off int) {
		tm := time.Unix(sec%(1<<40), nsec%1e9)
		checkTime(t, tm.UTC())
		checkTime(t, tm.In(time.FixedZone("z", off%86400)))
	})
}

func FuzzAppendString(f *testing.F) {
	f.Add("héllo <&> \u2028\u2029 \x00\x1f\x7f \xff\xfe \"\\")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	})
}
