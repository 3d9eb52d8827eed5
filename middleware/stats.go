package middleware

// The counters of MigrationStats. Its HTTP view, Handler, is in
// stats_handler.go.

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/popguard/popguard"
)

// Limits on what MigrationStats tracks. Route names come from configuration
// (Name, or the mode) and reasons from code, so real deployments stay far
// below; the caps only bound memory if a caller names routes after request
// data. Events beyond a cap are counted under overflowName.
const (
	maxStatsRoutes  = 1024
	maxStatsReasons = 256
	overflowName    = "_other"
)

// schemeSlots are the scheme labels MigrationStats counts (Event.SchemeLabel),
// in display order; "unknown" stays last.
var schemeSlots = [...]string{"none", "Bearer", "Bearer+mTLS", "DPoP", "PoP", "mtls_pop", "unknown"}

func schemeSlot(e Event) int {
	switch e.Scheme {
	case 0:
		return 0
	case popguard.Bearer:
		if e.CertBound {
			return 2
		}
		return 1
	case popguard.DPoP:
		return 3
	case popguard.PoP:
		return 4
	case popguard.MTLSPoP:
		return 5
	}
	return len(schemeSlots) - 1
}

// outcomeSlots are the outcomes MigrationStats counts, in display order.
var outcomeSlots = [...]Outcome{Accepted, Reported, Rejected}

func outcomeSlot(o Outcome) int {
	switch o {
	case Accepted:
		return 0
	case Reported:
		return 1
	case Rejected:
		return 2
	}
	return -1
}

// MigrationStats is an in-process Metrics implementation that answers the
// question a Bearer-to-DPoP migration keeps asking: per route, how many
// callers still use Bearer, how many already use DPoP, PoP or
// certificate-bound tokens, how many a report-only route would have
// rejected, and why requests are rejected.
//
// It counts every Event by route × scheme label (Event.SchemeLabel: none,
// Bearer, Bearer+mTLS, DPoP, PoP, mtls_pop) × outcome (accepted, reported,
// rejected), and rejections by route × reason.
// Counters are atomic and the route index is copy-on-write, so Observe takes
// no lock and allocates nothing once a route and reason have been seen.
// Beyond 1024 routes (or 256 reasons for one route) further names are
// counted under "_other", bounding memory. Counts start at zero when the
// process starts; for history, scrape Handler or export to a metrics system
// such as Prometheus (see examples/prometheus in the repository).
//
// Pass it to the Guard, alone or with other hooks (see Tee), and mount its
// Handler on an internal or admin listener:
//
//	stats := middleware.NewMigrationStats()
//	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL(publicURL),
//		middleware.WithMetrics(stats))
//	...
//	admin.Handle("/debug/popguard", stats.Handler())
//
// The zero value is ready to use. A MigrationStats is safe for concurrent
// use.
type MigrationStats struct {
	routes cowMap[string, routeCounters]
}

type routeCounters struct {
	counts  [len(outcomeSlots)][len(schemeSlots)]atomic.Uint64
	reasons cowMap[popguard.Reason, atomic.Uint64]
}

// NewMigrationStats returns empty statistics.
func NewMigrationStats() *MigrationStats { return &MigrationStats{} }

// Observe implements Metrics. Events with an outcome other than Accepted,
// Reported and Rejected are ignored; reasons are counted for rejections
// only.
func (s *MigrationStats) Observe(e Event) {
	o := outcomeSlot(e.Outcome)
	if o < 0 {
		return
	}
	rc := s.routes.get(e.Route, maxStatsRoutes, overflowName)
	rc.counts[o][schemeSlot(e)].Add(1)
	if e.Outcome == Rejected && e.Reason != "" {
		rc.reasons.get(e.Reason, maxStatsReasons, overflowName).Add(1)
	}
}

// RouteStats are the counts of one route. The maps are never nil and hold
// only non-zero counts: Accepted, Rejected and Reported are keyed by scheme
// label (Event.SchemeLabel: "none" for requests without a usable scheme,
// "Bearer", "Bearer+mTLS" for a certificate-bound token let through with its
// certificate, "DPoP", "PoP", "mtls_pop"; "unknown" for a Scheme value that
// is none of them), Reasons by rejection reason (popguard.Reason). A
// rejected certificate-bound token counts under the scheme it was sent with
// ("Bearer"), its reason saying why (token_cert_missing,
// token_cert_binding).
//
// A request whose scheme the route does not accept (Bearer on a DPoPOnly
// route) is rejected before its credentials are examined, and counts under
// the scheme it used with reason request_scheme_not_allowed: after a route
// is switched, that column shows who still sends Bearer.
type RouteStats struct {
	Route    string            `json:"route"`
	Accepted map[string]uint64 `json:"accepted"`
	Rejected map[string]uint64 `json:"rejected"`
	// Reported counts requests a report-only route let through although
	// its stricter mode would have rejected them.
	Reported map[string]uint64 `json:"reported"`
	Reasons  map[string]uint64 `json:"reasons"`
}

// Snapshot returns the current counts, one RouteStats per route seen,
// sorted by route. Counters keep running while it reads them, so the
// snapshot is not atomic across counters, but each count is exact.
func (s *MigrationStats) Snapshot() []RouteStats {
	m := s.routes.load()
	out := make([]RouteStats, 0, len(m))
	for name, rc := range m {
		rs := RouteStats{Route: name, Accepted: map[string]uint64{}, Rejected: map[string]uint64{},
			Reported: map[string]uint64{}, Reasons: map[string]uint64{}}
		for o, dst := range [...]map[string]uint64{rs.Accepted, rs.Reported, rs.Rejected} {
			for i := range schemeSlots {
				if n := rc.counts[o][i].Load(); n > 0 {
					dst[schemeSlots[i]] = n
				}
			}
		}
		for r, c := range rc.reasons.load() {
			if n := c.Load(); n > 0 {
				rs.Reasons[string(r)] = n
			}
		}
		out = append(out, rs)
	}
	slices.SortFunc(out, func(a, b RouteStats) int { return strings.Compare(a.Route, b.Route) })
	return out
}

// Tee returns a Metrics hook that passes every Event to each of ms in
// order, for example MigrationStats next to a Prometheus exporter:
//
//	middleware.WithMetrics(middleware.Tee(stats, prom))
//
// Nil hooks are skipped; nested Tees are flattened.
func Tee(ms ...Metrics) Metrics {
	t := make(tee, 0, len(ms))
	for _, m := range ms {
		switch m := m.(type) {
		case nil:
		case tee:
			t = append(t, m...)
		default:
			if !isNil(m) {
				t = append(t, m)
			}
		}
	}
	if len(t) == 1 {
		return t[0]
	}
	return t
}

type tee []Metrics

func (t tee) Observe(e Event) {
	for _, m := range t {
		m.Observe(e)
	}
}

// cowMap is a map that readers load without a lock and that a writer copies
// to add a key. Values are created on first use and never replaced, so a
// caller may keep the pointer. The zero value is an empty map.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex // serializes additions
	m  atomic.Pointer[map[K]*V]
}

// get returns the value of k, creating it on first use. Once the map holds
// limit keys, a new key is counted under overflow instead.
func (c *cowMap[K, V]) get(k K, limit int, overflow K) *V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.load()
	if v, ok := old[k]; ok {
		return v
	}
	if len(old) >= limit {
		if v, ok := old[overflow]; ok {
			return v
		}
		k = overflow
	}
	next := make(map[K]*V, len(old)+1)
	maps.Copy(next, old)
	v := new(V)
	next[k] = v
	c.m.Store(&next)
	return v
}

// load returns the current map, nil before the first addition. Callers
// must not modify it.
func (c *cowMap[K, V]) load() map[K]*V {
	if m := c.m.Load(); m != nil {
		return *m
	}
	return nil
}
