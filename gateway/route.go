package gateway

import (
	"sort"
	"strings"

	"github.com/smsgw/smsgw/config"
)

// routeTable maps a destination to the ordered SMSC names to try. It is
// built once from config and read concurrently without locks.
type routeTable struct {
	routes []config.Route // sorted by prefix length, longest first
	known  map[string]bool
}

func newRouteTable(routes []config.Route, smscs []config.SMSC) *routeTable {
	rt := &routeTable{known: make(map[string]bool, len(smscs))}
	for _, s := range smscs {
		rt.known[s.Name] = true
	}
	rt.routes = append([]config.Route(nil), routes...)
	sort.SliceStable(rt.routes, func(i, j int) bool { return len(rt.routes[i].Prefix) > len(rt.routes[j].Prefix) })
	return rt
}

// lookup returns the SMSC names to try for to, in failover order. A
// requested route (an SMSC name) overrides the table; an unknown one yields
// nothing, so the message fails with "no route" instead of going elsewhere
// than the client asked.
func (rt *routeTable) lookup(to, requested string) []string {
	if requested != "" {
		if rt.known[requested] {
			return []string{requested}
		}
		return nil
	}
	dest := routeNormalise(to)
	for _, r := range rt.routes {
		if strings.HasPrefix(dest, routeNormalise(r.Prefix)) {
			return r.SMSCs
		}
	}
	return nil
}

// routeNormalise makes "+44…" and "44…" compare equal: routes are written
// with '+', destinations are E.164 with '+', but be lenient with both.
func routeNormalise(s string) string {
	return "+" + strings.TrimPrefix(s, "+")
}
