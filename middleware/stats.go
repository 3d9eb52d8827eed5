package middleware

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
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

// schemeSlots are the schemes MigrationStats counts, in display order.
var schemeSlots = [...]string{"none", popguard.Bearer.String(), popguard.DPoP.String(), popguard.PoP.String(), "unknown"}

func schemeSlot(s popguard.Scheme) int {
	switch s {
	case 0:
		return 0
	case popguard.Bearer:
		return 1
	case popguard.DPoP:
		return 2
	case popguard.PoP:
		return 3
	}
	return 4
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
// callers still use Bearer, how many already use DPoP or PoP, how many a
// report-only route would have rejected, and why requests are rejected.
//
// It counts every Event by route × scheme (none, Bearer, DPoP, PoP) ×
// outcome (accepted, reported, rejected), and rejections by route × reason.
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
	mu     sync.Mutex // serializes additions to routes
	routes atomic.Pointer[map[string]*routeCounters]
}

type routeCounters struct {
	counts  [len(outcomeSlots)][len(schemeSlots)]atomic.Uint64
	mu      sync.Mutex // serializes additions to reasons
	reasons atomic.Pointer[map[popguard.Reason]*atomic.Uint64]
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
	rc := s.route(e.Route)
	rc.counts[o][schemeSlot(e.Scheme)].Add(1)
	if e.Outcome == Rejected && e.Reason != "" {
		rc.reason(e.Reason).Add(1)
	}
}

// route returns the counters of route name, creating them on first use.
func (s *MigrationStats) route(name string) *routeCounters {
	if m := s.routes.Load(); m != nil {
		if rc, ok := (*m)[name]; ok {
			return rc
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.routes.Load()
	var n int
	if old != nil {
		if rc, ok := (*old)[name]; ok {
			return rc
		}
		n = len(*old)
		if n >= maxStatsRoutes {
			if rc, ok := (*old)[overflowName]; ok {
				return rc
			}
			name = overflowName
		}
	}
	next := make(map[string]*routeCounters, n+1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	rc := &routeCounters{}
	next[name] = rc
	s.routes.Store(&next)
	return rc
}

// reason returns the counter of reason r, creating it on first use.
func (rc *routeCounters) reason(r popguard.Reason) *atomic.Uint64 {
	if m := rc.reasons.Load(); m != nil {
		if c, ok := (*m)[r]; ok {
			return c
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	old := rc.reasons.Load()
	var n int
	if old != nil {
		if c, ok := (*old)[r]; ok {
			return c
		}
		n = len(*old)
		if n >= maxStatsReasons {
			if c, ok := (*old)[overflowName]; ok {
				return c
			}
			r = overflowName
		}
	}
	next := make(map[popguard.Reason]*atomic.Uint64, n+1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	c := new(atomic.Uint64)
	next[r] = c
	rc.reasons.Store(&next)
	return c
}

// RouteStats are the counts of one route. The maps are never nil and hold
// only non-zero counts: Accepted, Rejected and Reported are keyed by scheme
// name ("none" for requests without a usable scheme, "Bearer", "DPoP",
// "PoP"; "unknown" for a Scheme value that is none of them), Reasons by
// rejection reason (popguard.Reason).
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
	m := s.routes.Load()
	if m == nil {
		return []RouteStats{}
	}
	out := make([]RouteStats, 0, len(*m))
	for name, rc := range *m {
		rs := RouteStats{Route: name, Accepted: map[string]uint64{}, Rejected: map[string]uint64{},
			Reported: map[string]uint64{}, Reasons: map[string]uint64{}}
		for o, dst := range [...]map[string]uint64{rs.Accepted, rs.Reported, rs.Rejected} {
			for i := range schemeSlots {
				if n := rc.counts[o][i].Load(); n > 0 {
					dst[schemeSlots[i]] = n
				}
			}
		}
		if rm := rc.reasons.Load(); rm != nil {
			for r, c := range *rm {
				if n := c.Load(); n > 0 {
					rs.Reasons[string(r)] = n
				}
			}
		}
		out = append(out, rs)
	}
	slices.SortFunc(out, func(a, b RouteStats) int { return strings.Compare(a.Route, b.Route) })
	return out
}

// Handler serves the snapshot: JSON ({"routes": [RouteStats...]}) by
// default, a plain-text table when the request prefers text/plain (Accept:
// text/plain, or ?format=text). Only GET and HEAD are allowed. The
// counts reveal route names and traffic: serve it on an internal listener
// or behind authentication.
func (s *MigrationStats) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		snap := s.Snapshot()
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Add("Vary", "Accept")
		if wantsText(r) {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			_ = writeTable(w, snap)
			return
		}
		h.Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Routes []RouteStats `json:"routes"`
		}{snap})
	})
}

// wantsText reports whether the request asks for text/plain over JSON:
// ?format=text, or an Accept header that ranks text/plain above
// application/json (wildcards do not count).
func wantsText(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "text":
		return true
	case "json":
		return false
	}
	var qText, qJSON float64 = -1, -1
	for _, part := range strings.Split(strings.Join(r.Header.Values("Accept"), ","), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		switch mt {
		case "text/plain":
			qText = max(qText, q)
		case "application/json":
			qJSON = max(qJSON, q)
		}
	}
	return qText > 0 && qText > qJSON
}

// writeTable writes snap as the plain-text table Handler serves: one line
// per route and outcome with the count per scheme, then the rejection
// reasons of each route, most frequent first.
func writeTable(w io.Writer, snap []RouteStats) error {
	var b strings.Builder
	rw := len("ROUTE")
	for _, rs := range snap {
		rw = max(rw, len(rs.Route))
	}
	fmt.Fprintf(&b, "%-*s  %-8s", rw, "ROUTE", "OUTCOME")
	for _, name := range schemeSlots[:4] {
		fmt.Fprintf(&b, "  %8s", name)
	}
	b.WriteString("\n")
	for _, rs := range snap {
		for o, counts := range [...]map[string]uint64{rs.Accepted, rs.Reported, rs.Rejected} {
			fmt.Fprintf(&b, "%-*s  %-8s", rw, rs.Route, outcomeSlots[o])
			for _, name := range schemeSlots[:4] {
				fmt.Fprintf(&b, "  %8d", counts[name])
			}
			if n := counts[schemeSlots[4]]; n > 0 {
				fmt.Fprintf(&b, "  unknown=%d", n)
			}
			b.WriteString("\n")
		}
	}
	type row struct {
		route, reason string
		n             uint64
	}
	var rows []row
	rsw := len("REJECTION REASON")
	for _, rs := range snap {
		start := len(rows)
		for reason, n := range rs.Reasons {
			rows = append(rows, row{rs.Route, reason, n})
			rsw = max(rsw, len(reason))
		}
		slices.SortFunc(rows[start:], func(a, b row) int {
			return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.reason, b.reason))
		})
	}
	if len(rows) > 0 {
		fmt.Fprintf(&b, "\n%-*s  %-*s  %8s\n", rw, "ROUTE", rsw, "REJECTION REASON", "COUNT")
		for _, r := range rows {
			fmt.Fprintf(&b, "%-*s  %-*s  %8d\n", rw, r.route, rsw, r.reason, r.n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
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
