package middleware

// The HTTP view of MigrationStats: content negotiation between JSON and a
// plain-text table. The counters are in stats.go.

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
)

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
	// The columns none, Bearer, DPoP and PoP always; Bearer+mTLS and
	// mtls_pop once a route has counted one; unknown as a suffix.
	unknown := len(schemeSlots) - 1
	var cols []int
	for i := range unknown {
		show := schemeSlots[i] != "Bearer+mTLS" && schemeSlots[i] != "mtls_pop"
		for _, rs := range snap {
			show = show || rs.Accepted[schemeSlots[i]] > 0 || rs.Reported[schemeSlots[i]] > 0 || rs.Rejected[schemeSlots[i]] > 0
		}
		if show {
			cols = append(cols, i)
		}
	}
	fmt.Fprintf(&b, "%-*s  %-8s", rw, "ROUTE", "OUTCOME")
	for _, i := range cols {
		fmt.Fprintf(&b, "  %8s", schemeSlots[i])
	}
	b.WriteString("\n")
	for _, rs := range snap {
		for o, counts := range [...]map[string]uint64{rs.Accepted, rs.Reported, rs.Rejected} {
			fmt.Fprintf(&b, "%-*s  %-8s", rw, rs.Route, outcomeSlots[o])
			for _, i := range cols {
				fmt.Fprintf(&b, "  %*d", max(8, len(schemeSlots[i])), counts[schemeSlots[i]])
			}
			if n := counts[schemeSlots[unknown]]; n > 0 {
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
