package gateway

import (
	"slices"
	"testing"

	"github.com/smsgw/smsgw/config"
)

func TestRouteLookup(t *testing.T) {
	smscs := []config.SMSC{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	rt := newRouteTable([]config.Route{
		{Prefix: "+", SMSCs: []string{"a"}},
		{Prefix: "+44", SMSCs: []string{"b", "a"}},
		{Prefix: "+447", SMSCs: []string{"c", "b"}},
		{Prefix: "+4420", SMSCs: []string{"a", "c"}},
	}, smscs)
	cases := []struct {
		to, requested string
		want          []string
	}{
		{"+447700900123", "", []string{"c", "b"}}, // longest prefix wins
		{"+442071234567", "", []string{"a", "c"}},
		{"+441234567890", "", []string{"b", "a"}},
		{"+33612345678", "", []string{"a"}},      // "+" matches everything
		{"447700900123", "", []string{"c", "b"}}, // '+' optional on the destination
		{"+447700900123", "b", []string{"b"}},    // a requested route overrides
		{"+447700900123", "nowhere", nil},        // an unknown one is no route
	}
	for _, c := range cases {
		if got := rt.lookup(c.to, c.requested); !slices.Equal(got, c.want) {
			t.Errorf("lookup(%q, %q) = %v, want %v", c.to, c.requested, got, c.want)
		}
	}
	empty := newRouteTable([]config.Route{{Prefix: "+1", SMSCs: []string{"a"}}}, smscs)
	if got := empty.lookup("+447700900123", ""); got != nil {
		t.Errorf("no matching prefix: %v", got)
	}
}
