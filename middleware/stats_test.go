package middleware_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// statsEnv is an issuer, a Guard reporting to a MigrationStats, and a
// client DPoP key.
type statsEnv struct {
	iss   *poptest.Issuer
	key   *poptest.Client
	stats *middleware.MigrationStats
	guard *middleware.Guard
}

func newStatsEnv(metrics ...middleware.Metrics) (*statsEnv, error) {
	iss := poptest.NewStaticIssuer("https://issuer.example")
	iss.Audience = "https://api.example"
	tokens, err := validate.NewJWTVerifier(iss.URL, iss.KeySet(), validate.Audience("https://api.example"))
	if err != nil {
		return nil, err
	}
	stats := middleware.NewMigrationStats()
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		middleware.WithMetrics(middleware.Tee(append([]middleware.Metrics{stats}, metrics...)...)))
	if err != nil {
		return nil, err
	}
	return &statsEnv{iss: iss, key: poptest.NewClient(), stats: stats, guard: guard}, nil
}

// bearer returns a request with an unbound Bearer token.
func (e *statsEnv) bearer(method, path string) *http.Request {
	tok := e.iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "legacy"})
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// dpop returns a request with a DPoP-bound token and a fresh proof.
func (e *statsEnv) dpop(method, path string) *http.Request {
	tok := e.iss.Token(poptest.TokenOptions{Subject: "bob", ClientID: "app", DPoP: e.key})
	proof := e.key.Proof(method, "https://api.example"+path, tok, poptest.ProofOptions{})
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof)
	return r
}

// routes is an API migrating from Bearer to DPoP: /transfers is DPoP-only,
// /accounts reports Bearer callers, /legacy is still Bearer-only.
func (e *statsEnv) routes() http.Handler {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("/transfers", e.guard.Require(popguard.DPoPOnly, middleware.Name("transfers"))(ok))
	mux.Handle("/accounts", e.guard.Require(popguard.ReportOnly(popguard.DPoPOnly), middleware.Name("accounts"))(ok))
	mux.Handle("/legacy", e.guard.Require(popguard.BearerOnly)(ok))
	return mux
}

func serve(h http.Handler, r *http.Request) int {
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, r)
	return rr.Code
}

// A Guard counting per route and scheme; the plain-text view shows who still
// sends Bearer tokens.
func ExampleMigrationStats() {
	env, err := newStatsEnv()
	if err != nil {
		log.Fatal(err)
	}
	defer env.guard.Close()
	api := env.routes()

	serve(api, env.dpop("POST", "/transfers"))
	serve(api, env.bearer("POST", "/transfers")) // rejected: DPoP only (counted as scheme "none", see RouteStats)
	serve(api, env.dpop("GET", "/accounts"))
	serve(api, env.bearer("GET", "/accounts")) // let through, reported
	serve(api, env.bearer("GET", "/accounts"))
	serve(api, httptest.NewRequest("GET", "/accounts", nil)) // no credentials

	for _, rs := range env.stats.Snapshot() {
		fmt.Printf("%s: Bearer reported %d, DPoP accepted %d\n", rs.Route, rs.Reported["Bearer"], rs.Accepted["DPoP"])
	}
	fmt.Println()

	// The same as a table (JSON without Accept: text/plain).
	rr := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/debug/popguard", nil)
	req.Header.Set("Accept", "text/plain")
	env.stats.Handler().ServeHTTP(rr, req)
	fmt.Print(rr.Body.String())
	// Output:
	// accounts: Bearer reported 2, DPoP accepted 1
	// transfers: Bearer reported 0, DPoP accepted 1
	//
	// ROUTE      OUTCOME       none    Bearer      DPoP       PoP
	// accounts   accepted         0         0         1         0
	// accounts   reported         0         2         0         0
	// accounts   rejected         1         0         0         0
	// transfers  accepted         0         0         1         0
	// transfers  reported         0         0         0         0
	// transfers  rejected         0         1         0         0
	//
	// ROUTE      REJECTION REASON               COUNT
	// accounts   no_credentials                     1
	// transfers  request_scheme_not_allowed         1
}

// One hook for in-process statistics and another for an exporter.
func ExampleTee() {
	stats := middleware.NewMigrationStats()
	var last middleware.Event
	exporter := metricsFunc(func(e middleware.Event) { last = e })

	m := middleware.Tee(stats, exporter)
	m.Observe(middleware.Event{Route: "transfers", Scheme: popguard.Bearer, Outcome: middleware.Rejected,
		Reason: popguard.ReasonRequestSchemeNotAllowed})

	fmt.Println(stats.Snapshot()[0].Reasons, last.Reason)
	// Output: map[request_scheme_not_allowed:1] request_scheme_not_allowed
}

type metricsFunc func(middleware.Event)

func (f metricsFunc) Observe(e middleware.Event) { f(e) }

func TestMigrationStatsSnapshot(t *testing.T) {
	s := middleware.NewMigrationStats()
	if got := s.Snapshot(); got == nil || len(got) != 0 {
		t.Fatalf("empty Snapshot = %#v, want an empty non-nil slice", got)
	}
	events := []middleware.Event{
		{Route: "b", Scheme: popguard.Bearer, Outcome: middleware.Accepted},
		{Route: "b", Scheme: popguard.Bearer, Outcome: middleware.Accepted},
		{Route: "b", Scheme: popguard.DPoP, Outcome: middleware.Accepted},
		{Route: "b", Scheme: popguard.PoP, Outcome: middleware.Accepted},
		{Route: "b", Scheme: popguard.Bearer, Outcome: middleware.Reported},
		{Route: "a", Scheme: 0, Outcome: middleware.Rejected, Reason: popguard.ReasonNoCredentials},
		{Route: "a", Scheme: popguard.DPoP, Outcome: middleware.Rejected, Reason: popguard.ReasonProofHTU},
		{Route: "a", Scheme: popguard.DPoP, Outcome: middleware.Rejected, Reason: popguard.ReasonProofHTU},
		{Route: "a", Scheme: popguard.DPoP, Outcome: middleware.Rejected}, // no reason: counted, no reason entry
		{Route: "a", Scheme: popguard.Bearer | popguard.DPoP, Outcome: middleware.Accepted},
		{Route: "c", Scheme: popguard.Bearer, Outcome: "bogus"}, // ignored
	}
	for _, e := range events {
		s.Observe(e)
	}
	want := []middleware.RouteStats{
		{Route: "a", Accepted: map[string]uint64{"unknown": 1}, Reported: map[string]uint64{},
			Rejected: map[string]uint64{"none": 1, "DPoP": 3},
			Reasons:  map[string]uint64{"no_credentials": 1, "proof_htu": 2}},
		{Route: "b", Accepted: map[string]uint64{"Bearer": 2, "DPoP": 1, "PoP": 1}, Reported: map[string]uint64{"Bearer": 1},
			Rejected: map[string]uint64{}, Reasons: map[string]uint64{}},
	}
	if got := s.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("Snapshot =\n%#v\nwant\n%#v", got, want)
	}
	// A snapshot is a copy.
	s.Snapshot()[0].Rejected["DPoP"] = 99
	if got := s.Snapshot()[0].Rejected["DPoP"]; got != 3 {
		t.Errorf("Snapshot shares its maps: %d", got)
	}
	// The zero value works.
	var z middleware.MigrationStats
	z.Observe(middleware.Event{Route: "r", Scheme: popguard.DPoP, Outcome: middleware.Accepted})
	if got := z.Snapshot(); len(got) != 1 || got[0].Accepted["DPoP"] != 1 {
		t.Errorf("zero value: %#v", got)
	}
}

// Through a real Guard: every request is counted once, under the route's
// name (default: the mode), with the scheme used and the reason.
func TestMigrationStatsGuard(t *testing.T) {
	var events []middleware.Event
	env, err := newStatsEnv(metricsFunc(func(e middleware.Event) { events = append(events, e) }))
	if err != nil {
		t.Fatal(err)
	}
	defer env.guard.Close()
	api := env.routes()
	steps := []struct {
		req  *http.Request
		code int
	}{
		{env.dpop("POST", "/transfers"), 200},
		{env.bearer("POST", "/transfers"), 401},
		{env.dpop("GET", "/accounts"), 200},
		{env.bearer("GET", "/accounts"), 200},
		{env.bearer("GET", "/legacy"), 200},
		{env.dpop("GET", "/legacy"), 401},
		{httptest.NewRequest("GET", "/legacy", nil), 401},
	}
	for i, s := range steps {
		if got := serve(api, s.req); got != s.code {
			t.Errorf("step %d: status %d, want %d", i, got, s.code)
		}
	}
	if len(events) != len(steps) {
		t.Errorf("Tee passed %d events, want %d", len(events), len(steps))
	}
	want := []middleware.RouteStats{
		{Route: "Bearer", Accepted: map[string]uint64{"Bearer": 1}, Reported: map[string]uint64{},
			Rejected: map[string]uint64{"none": 1, "DPoP": 1}, Reasons: map[string]uint64{"no_credentials": 1, "request_scheme_not_allowed": 1}},
		{Route: "accounts", Accepted: map[string]uint64{"DPoP": 1}, Reported: map[string]uint64{"Bearer": 1},
			Rejected: map[string]uint64{}, Reasons: map[string]uint64{}},
		{Route: "transfers", Accepted: map[string]uint64{"DPoP": 1}, Reported: map[string]uint64{},
			Rejected: map[string]uint64{"Bearer": 1}, Reasons: map[string]uint64{"request_scheme_not_allowed": 1}},
	}
	// A scheme the route does not accept counts under that scheme: the
	// migration view shows who still sends Bearer to a DPoP-only route.
	if got := env.stats.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("Snapshot =\n%#v\nwant\n%#v", got, want)
	}
}

// Observe from many goroutines (with readers running) loses no count. Run
// with -race.
func TestMigrationStatsConcurrent(t *testing.T) {
	s := middleware.NewMigrationStats()
	const workers, perWorker = 8, 2000
	routes := []string{"r0", "r1", "r2", "r3", "r4"}
	reasons := []popguard.Reason{popguard.ReasonProofHTU, popguard.ReasonTokenExpired, popguard.ReasonReplayDetected}
	schemes := []popguard.Scheme{0, popguard.Bearer, popguard.DPoP, popguard.PoP}
	outcomes := []middleware.Outcome{middleware.Accepted, middleware.Reported, middleware.Rejected}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_ = s.Snapshot()
					rr := httptest.NewRecorder()
					s.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/?format=text", nil))
				}
			}
		})
	}
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				n := w*perWorker + i
				s.Observe(middleware.Event{Route: routes[n%len(routes)], Scheme: schemes[n%len(schemes)],
					Outcome: outcomes[n%len(outcomes)], Reason: reasons[n%len(reasons)]})
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	var total, rejected, reasonTotal uint64
	for _, rs := range s.Snapshot() {
		for _, m := range []map[string]uint64{rs.Accepted, rs.Reported} {
			for _, n := range m {
				total += n
			}
		}
		for _, n := range rs.Rejected {
			total += n
			rejected += n
		}
		for _, n := range rs.Reasons {
			reasonTotal += n
		}
	}
	if total != workers*perWorker {
		t.Errorf("total = %d, want %d", total, workers*perWorker)
	}
	if reasonTotal != rejected {
		t.Errorf("reasons = %d, rejections = %d", reasonTotal, rejected)
	}
	if got := len(s.Snapshot()); got != len(routes) {
		t.Errorf("%d routes, want %d", got, len(routes))
	}
}

// Route and reason names beyond the caps fold into "_other".
func TestMigrationStatsCardinalityCap(t *testing.T) {
	s := middleware.NewMigrationStats()
	for i := range 1100 {
		s.Observe(middleware.Event{Route: fmt.Sprintf("route-%04d", i), Scheme: popguard.Bearer, Outcome: middleware.Accepted})
	}
	for i := range 300 {
		s.Observe(middleware.Event{Route: "route-0000", Outcome: middleware.Rejected, Reason: popguard.Reason(fmt.Sprintf("custom_%03d", i))})
	}
	snap := s.Snapshot()
	if len(snap) != 1025 {
		t.Fatalf("%d routes, want 1024 + _other", len(snap))
	}
	if snap[0].Route != "_other" || snap[0].Accepted["Bearer"] != 1100-1024 {
		t.Errorf("first route = %s %v, want _other with %d", snap[0].Route, snap[0].Accepted, 1100-1024)
	}
	reasons := snap[1].Reasons
	if snap[1].Route != "route-0000" || len(reasons) != 257 || reasons["_other"] != 300-256 {
		t.Errorf("route-0000: %d reasons, _other = %d", len(reasons), reasons["_other"])
	}
}

func TestMigrationStatsObserveAllocs(t *testing.T) {
	s := middleware.NewMigrationStats()
	accepted := middleware.Event{Route: "transfers", Scheme: popguard.DPoP, Outcome: middleware.Accepted}
	rejected := middleware.Event{Route: "transfers", Scheme: popguard.Bearer, Outcome: middleware.Rejected, Reason: popguard.ReasonTokenExpired}
	s.Observe(accepted)
	s.Observe(rejected)
	if n := testing.AllocsPerRun(1000, func() { s.Observe(accepted); s.Observe(rejected) }); n != 0 {
		t.Errorf("Observe allocates %v times per call pair", n)
	}
}

func TestMigrationStatsHandler(t *testing.T) {
	s := middleware.NewMigrationStats()
	s.Observe(middleware.Event{Route: "transfers", Scheme: popguard.DPoP, Outcome: middleware.Accepted})
	s.Observe(middleware.Event{Route: "transfers", Scheme: popguard.DPoP, Outcome: middleware.Accepted})
	s.Observe(middleware.Event{Route: "transfers", Scheme: popguard.Bearer, Outcome: middleware.Rejected, Reason: popguard.ReasonRequestSchemeNotAllowed})
	s.Observe(middleware.Event{Route: "accounts", Scheme: popguard.Bearer, Outcome: middleware.Reported})
	s.Observe(middleware.Event{Route: "accounts", Scheme: popguard.DPoP, Outcome: middleware.Rejected, Reason: popguard.ReasonProofIAT})
	s.Observe(middleware.Event{Route: "accounts", Scheme: popguard.DPoP, Outcome: middleware.Rejected, Reason: popguard.ReasonReplayDetected})
	s.Observe(middleware.Event{Route: "accounts", Scheme: popguard.DPoP, Outcome: middleware.Rejected, Reason: popguard.ReasonReplayDetected})
	h := s.Handler()

	get := func(method, target, accept string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, target, nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, r)
		return rr
	}

	const wantJSON = `{
  "routes": [
    {
      "route": "accounts",
      "accepted": {},
      "rejected": {
        "DPoP": 3
      },
      "reported": {
        "Bearer": 1
      },
      "reasons": {
        "proof_iat": 1,
        "replay_detected": 2
      }
    },
    {
      "route": "transfers",
      "accepted": {
        "DPoP": 2
      },
      "rejected": {
        "Bearer": 1
      },
      "reported": {},
      "reasons": {
        "request_scheme_not_allowed": 1
      }
    }
  ]
}
`
	const wantText = `ROUTE      OUTCOME       none    Bearer      DPoP       PoP
accounts   accepted         0         0         0         0
accounts   reported         0         1         0         0
accounts   rejected         0         0         3         0
transfers  accepted         0         0         2         0
transfers  reported         0         0         0         0
transfers  rejected         0         1         0         0

ROUTE      REJECTION REASON               COUNT
accounts   replay_detected                    2
accounts   proof_iat                          1
transfers  request_scheme_not_allowed         1
`
	for _, tc := range []struct {
		target, accept string
		text           bool
	}{
		{"/", "", false},
		{"/", "application/json", false},
		{"/", "*/*", false},
		{"/", "text/html,application/xhtml+xml,*/*;q=0.8", false},
		{"/", "text/plain", true},
		{"/", "text/plain; charset=utf-8", true},
		{"/", "application/json;q=0.5, text/plain", true},
		{"/", "text/plain;q=0.5, application/json", false},
		{"/", "text/plain;q=0", false},
		{"/?format=text", "application/json", true},
		{"/?format=json", "text/plain", false},
	} {
		rr := get("GET", tc.target, tc.accept)
		if rr.Code != 200 {
			t.Errorf("%s Accept %q: status %d", tc.target, tc.accept, rr.Code)
			continue
		}
		if got := rr.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q", got)
		}
		if tc.text {
			if ct := rr.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("%s Accept %q: Content-Type %q", tc.target, tc.accept, ct)
			}
			if got := rr.Body.String(); got != wantText {
				t.Errorf("%s Accept %q: text =\n%s\nwant\n%s", tc.target, tc.accept, got, wantText)
			}
			continue
		}
		if ct := rr.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s Accept %q: Content-Type %q", tc.target, tc.accept, ct)
		}
		if got := rr.Body.String(); got != wantJSON {
			t.Errorf("%s Accept %q: JSON =\n%s\nwant\n%s", tc.target, tc.accept, got, wantJSON)
		}
		var doc struct{ Routes []middleware.RouteStats }
		if err := json.Unmarshal(rr.Body.Bytes(), &doc); err != nil || !reflect.DeepEqual(doc.Routes, s.Snapshot()) {
			t.Errorf("JSON does not round-trip to Snapshot: %v", err)
		}
	}

	if rr := get("HEAD", "/", ""); rr.Code != 200 {
		t.Errorf("HEAD: %d", rr.Code)
	}
	rr := get("POST", "/", "")
	if rr.Code != http.StatusMethodNotAllowed || rr.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", rr.Code, rr.Header().Get("Allow"))
	}

	// Empty statistics: an empty list, a header-only table.
	empty := middleware.NewMigrationStats().Handler()
	rr = httptest.NewRecorder()
	empty.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	if got := rr.Body.String(); got != "{\n  \"routes\": []\n}\n" {
		t.Errorf("empty JSON = %q", got)
	}
	rr = httptest.NewRecorder()
	empty.ServeHTTP(rr, httptest.NewRequest("GET", "/?format=text", nil))
	if got := rr.Body.String(); !strings.HasPrefix(got, "ROUTE ") || strings.Count(got, "\n") != 1 {
		t.Errorf("empty text = %q", got)
	}
}

func TestTee(t *testing.T) {
	var a, b []middleware.Event
	ma := metricsFunc(func(e middleware.Event) { a = append(a, e) })
	mb := metricsFunc(func(e middleware.Event) { b = append(b, e) })
	var typedNil *middleware.MigrationStats

	m := middleware.Tee(nil, ma, middleware.Tee(mb, nil), typedNil)
	e := middleware.Event{Route: "r", Scheme: popguard.DPoP, Outcome: middleware.Accepted}
	m.Observe(e)
	if len(a) != 1 || len(b) != 1 || a[0] != e || b[0] != e {
		t.Errorf("a = %v, b = %v", a, b)
	}
	// One hook is returned as is.
	s := middleware.NewMigrationStats()
	if got := middleware.Tee(nil, s); got != middleware.Metrics(s) {
		t.Errorf("Tee(nil, s) = %T, want s itself", got)
	}
	// An empty Tee is a valid no-op hook.
	empty := middleware.Tee()
	empty.Observe(e)
	if _, err := middleware.New(middleware.WithTokens(testVerifierFor(t)), middleware.WithPublicURL(publicURL), middleware.WithMetrics(empty)); err != nil {
		t.Errorf("WithMetrics(Tee()): %v", err)
	}
}

func testVerifierFor(t *testing.T) validate.TokenVerifier {
	t.Helper()
	v, err := validate.NewJWTVerifier("https://issuer.example", poptest.NewStaticIssuer("https://issuer.example").KeySet(),
		validate.Audience("https://api.example"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func BenchmarkMigrationStatsObserve(b *testing.B) {
	s := middleware.NewMigrationStats()
	events := []middleware.Event{
		{Route: "transfers", Scheme: popguard.DPoP, Outcome: middleware.Accepted},
		{Route: "accounts", Scheme: popguard.Bearer, Outcome: middleware.Reported},
		{Route: "transfers", Scheme: popguard.Bearer, Outcome: middleware.Rejected, Reason: popguard.ReasonRequestSchemeNotAllowed},
	}
	for _, e := range events {
		s.Observe(e)
	}
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s.Observe(events[i%len(events)])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				s.Observe(events[i%len(events)])
				i++
			}
		})
	})
}
