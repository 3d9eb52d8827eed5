package main

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/popguard/popguard/middleware"
)

// metrics counts decisions per route × scheme × outcome × reason and
// serves them in the Prometheus text exposition format (version 0.0.4).
//
// It is written by hand on purpose: the format is a few lines of text, and
// the core module stays free of client_golang (examples/prometheus shows the
// client_golang version of the same hook). It implements
// middleware.Metrics, so the library reports every decision it makes, and
// the service adds the refusals it makes before a route's policy runs. The
// label values come from configuration (route names) and code (schemes,
// outcomes, reasons), never from requests, so the series stay bounded.
type metrics struct {
	mu       sync.RWMutex
	counters map[metricKey]*atomic.Uint64
}

type metricKey struct {
	route, scheme, outcome, reason string
}

func newMetrics() *metrics {
	return &metrics{counters: map[metricKey]*atomic.Uint64{}}
}

// Observe implements middleware.Metrics.
func (m *metrics) Observe(e middleware.Event) {
	k := metricKey{route: e.Route, scheme: "none", outcome: string(e.Outcome), reason: string(e.Reason)}
	if e.Scheme != 0 {
		k.scheme = e.Scheme.String()
	}
	m.mu.RLock()
	c := m.counters[k]
	m.mu.RUnlock()
	if c == nil {
		m.mu.Lock()
		if c = m.counters[k]; c == nil {
			c = new(atomic.Uint64)
			m.counters[k] = c
		}
		m.mu.Unlock()
	}
	c.Add(1)
}

// count returns one counter's value (for tests).
func (m *metrics) count(route, scheme, outcome, reason string) uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if c := m.counters[metricKey{route, scheme, outcome, reason}]; c != nil {
		return c.Load()
	}
	return 0
}

// serve writes the exposition.
func (m *metrics) serve(w http.ResponseWriter, ready bool) {
	m.mu.RLock()
	keys := make([]metricKey, 0, len(m.counters))
	for k := range m.counters {
		keys = append(keys, k)
	}
	m.mu.RUnlock()
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.route != b.route {
			return a.route < b.route
		}
		if a.scheme != b.scheme {
			return a.scheme < b.scheme
		}
		if a.outcome != b.outcome {
			return a.outcome < b.outcome
		}
		return a.reason < b.reason
	})
	var b bytes.Buffer
	b.WriteString("# HELP popguard_requests_total Decisions by route, scheme, outcome and rejection reason.\n")
	b.WriteString("# TYPE popguard_requests_total counter\n")
	m.mu.RLock()
	for _, k := range keys {
		fmt.Fprintf(&b, "popguard_requests_total{route=\"%s\",scheme=\"%s\",outcome=\"%s\",reason=\"%s\"} %d\n",
			labelValue(k.route), labelValue(k.scheme), labelValue(k.outcome), labelValue(k.reason), m.counters[k].Load())
	}
	m.mu.RUnlock()
	b.WriteString("# HELP popguard_ready Whether the issuer keys are loaded (1) or not (0).\n")
	b.WriteString("# TYPE popguard_ready gauge\n")
	if ready {
		b.WriteString("popguard_ready 1\n")
	} else {
		b.WriteString("popguard_ready 0\n")
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

// labelValue escapes a label value: backslash, double quote and line feed.
func labelValue(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
