package middleware_test

// FuzzExtract feeds raw Authorization and DPoP field values (a "\n" in
// either splits it into several field lines) and a raw query through three
// routes of two Guards, and checks after every request:
//
//   - no panic; the status is one of 200, 400, 401, 403, 431, 503;
//   - every response header is printable ASCII, every WWW-Authenticate line
//     is a well-formed challenge without quotes or backslashes inside its
//     values, and the JSON error_description obeys RFC 6750 §3;
//   - the handler ran if and only if the answer is 200, and only when the
//     request carried a valid credential as an independent oracle reads
//     the RFCs: exactly one Authorization line "<scheme> 1*SP <token>"
//     (OWS around) whose token is one this test's issuer minted for that
//     scheme, a single DPoP line holding a proof minted for that token (with
//     the server nonce on the nonce route), or, on the query-token route
//     only, no Authorization line and exactly one access_token parameter
//     holding an unbound token; and never with a '#' in the request-target
//     (RFC 9112 §3.2). The Result names the token's subject.
//
// Keys (Ed25519: deterministic signatures), jti, nonces and clocks are
// fixed, so every credential is the same string in every run and the seed
// corpus in testdata/fuzz/FuzzExtract stays valid: regenerate it with
// POPGUARD_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzExtractSeeds ./middleware/

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// fzT0 is the fixed time of every token, proof and verifier of the fuzz
// fixture.
var fzT0 = time.Unix(1_750_000_000, 0)

// fzKey derives a fixed Ed25519 key from a label.
func fzKey(tb testing.TB, label string) *poptest.Client {
	tb.Helper()
	k, err := dpopclient.NewKey(ed25519.NewKeyFromSeed(fzSeed(label)), "EdDSA")
	if err != nil {
		tb.Fatal(err)
	}
	return poptest.NewClientWithKey(k)
}

// fzSeed is the Ed25519 seed of label.
func fzSeed(label string) []byte {
	seed := sha256.Sum256([]byte("popguard fuzz key: " + label))
	return seed[:]
}

type fzCredKind int

const (
	fzUnbound    fzCredKind = iota + 1 // unbound access token (alice)
	fzDPoPTok                          // cnf.jkt token (bob)
	fzPoPTok                           // cnf.kid token (carol), only inside SHRs
	fzProof                            // DPoP proof for the bob token, no nonce
	fzProofNonce                       // DPoP proof for the bob token with the nonce
	fzSHR                              // SHR carrying the carol token
)

type fzFixture struct {
	routes []fzRoute
	creds  map[string]fzCredKind
	seeds  map[string][3]string
}

type fzRoute struct {
	name    string
	handler http.Handler
	dpop    bool // the route takes DPoP
	bearer  bool
	pop     bool
	nonce   bool // DPoP proofs need the nonce
	query   bool // access_token in the query is accepted
}

type fzObsKey struct{}

type fzObs struct {
	ran int
	res *popguard.Result
}

func newFzFixture(tb testing.TB) *fzFixture {
	tb.Helper()
	// The issuer's key, published and named as a fixed kid: the fixture's
	// tokens are the same bytes on every run.
	issKey, err := dpopclient.NewKey(ed25519.NewKeyFromSeed(fzSeed("issuer")), "EdDSA")
	if err != nil {
		tb.Fatal(err)
	}
	iss := poptest.NewStaticIssuerWithKey(issuerURL, issKey)
	jwk := poptest.NewClientWithKey(issKey).JWK()
	jwk["kid"], jwk["alg"], jwk["use"] = "fuzz-issuer", "EdDSA", "sig"
	jwks, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	if err != nil {
		tb.Fatal(err)
	}
	client, popKey := fzKey(tb, "dpop-client"), fzKey(tb, "pop-client")
	keys, err := validate.NewStaticKeySet(jwks)
	if err != nil {
		tb.Fatal(err)
	}
	clock := func() time.Time { return fzT0 }
	tokens, err := validate.NewJWTVerifier(issuerURL, keys, validate.Audience(audience), validate.Clock(clock))
	if err != nil {
		tb.Fatal(err)
	}
	proofs, err := validate.NewProofVerifier(validate.Clock(clock))
	if err != nil {
		tb.Fatal(err)
	}
	nonces, err := nonce.New([]byte("0123456789abcdef0123456789abcdef"), nonce.Clock(clock))
	if err != nil {
		tb.Fatal(err)
	}
	common := []middleware.Option{
		middleware.WithTokens(tokens), middleware.WithoutTokenCache(), middleware.WithProofVerifier(proofs),
		middleware.WithPublicURL(publicURL), middleware.WithoutReplayDetection(), middleware.WithNonces(nonces),
		middleware.WithLogger(slog.New(slog.DiscardHandler)),
	}
	gA, err := middleware.New(append(common, middleware.WithPoP(validate.Clock(clock), validate.Algs("ES256", "EdDSA")))...)
	if err != nil {
		tb.Fatal(err)
	}
	gB, err := middleware.New(append(common, middleware.WithQueryTokens())...)
	if err != nil {
		tb.Fatal(err)
	}
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs := r.Context().Value(fzObsKey{}).(*fzObs)
		obs.ran++
		obs.res = popguard.FromContext(r.Context())
	})
	f := &fzFixture{creds: map[string]fzCredKind{}, seeds: map[string][3]string{}}
	f.routes = []fzRoute{
		{name: "mixed", handler: gA.Require(popguard.Mixed)(protected), bearer: true, dpop: true, pop: true},
		{name: "dpop-nonce-scope", handler: gA.Require(popguard.DPoPOnly, middleware.RequireNonce(), middleware.RequireScopes("read"))(protected),
			dpop: true, nonce: true},
		{name: "bearer-query", handler: gB.Require(popguard.BearerOnly)(protected), bearer: true, query: true},
	}
	mint := func(o poptest.TokenOptions) string {
		o.Audience, o.IssuedAt = audience, fzT0
		o.Claims = map[string]any{"jti": "jti-" + o.Subject}
		o.Header = map[string]any{"kid": "fuzz-issuer"}
		return iss.Token(o)
	}
	unbound := mint(poptest.TokenOptions{Subject: "alice", ClientID: "app", Scope: "read write"})
	bound := mint(poptest.TokenOptions{Subject: "bob", ClientID: "app", Scope: "read", DPoP: client})
	popTok := mint(poptest.TokenOptions{Subject: "carol", ClientID: "msal", Scope: "read", PoP: popKey})
	proof := client.Proof("GET", target, bound, poptest.ProofOptions{IssuedAt: fzT0, JTI: "proof-1"})
	proofN := client.Proof("GET", target, bound, poptest.ProofOptions{IssuedAt: fzT0, Nonce: nonces.Issue(), JTI: "proof-2"})
	shr := popKey.SHR("GET", "https://api.test/r", popTok, poptest.SHROptions{Time: fzT0, Nonce: "0123456789abcdef0123456789abcdef"})
	f.creds[unbound], f.creds[bound], f.creds[popTok] = fzUnbound, fzDPoPTok, fzPoPTok
	f.creds[proof], f.creds[proofN], f.creds[shr] = fzProof, fzProofNonce, fzSHR

	seed := func(name, auth, dpop, query string) { f.seeds[name] = [3]string{auth, dpop, query} }
	seed("bearer", "Bearer "+unbound, "", "")
	seed("bearer-ows", " \tbeArer   "+unbound+" \t", "", "a=1&b=%20")
	seed("dpop", "DPoP "+bound, proof, "")
	seed("dpop-nonce", "dpop "+bound, " "+proofN+"\t", "x=y")
	seed("pop", "PoP "+shr, "", "")
	seed("query-token", "", "", "access_token="+unbound)
	seed("query-token-encoded-name", "", "", "a=1&access%5Ftoken="+unbound)
	seed("query-and-header", "Bearer "+unbound, "", "access_token="+unbound)
	seed("two-query-tokens", "", "", "access_token="+unbound+"&access_token="+unbound)
	seed("bound-as-bearer", "Bearer "+bound, proof, "")
	seed("unbound-as-dpop", "DPoP "+unbound, proof, "")
	seed("pop-token-as-bearer", "Bearer "+popTok, "", "")
	seed("two-authorization-lines", "Bearer "+unbound+"\nDPoP "+bound, proof, "")
	seed("two-dpop-lines", "DPoP "+bound, proof+"\n"+proof, "")
	seed("folded-proofs", "DPoP "+bound, proof+", "+proofN, "")
	seed("tab-after-scheme", "Bearer\t"+unbound, "", "")
	seed("nbsp-after-scheme", "DPoP\u00a0"+bound, proof, "")
	seed("fullwidth-scheme", "ＤPoP "+bound, proof, "")
	seed("basic", "Basic dXNlcjpwYXNz", "", "")
	seed("scheme-only", "Bearer", "", "")
	seed("token-params", `DPoP token="x", other=1`, proof, "")
	seed("crlf-injection", "Bearer a\r\nX-Evil: 1", "x\r\n\"\\", "q=\r\n")
	seed("quote-backslash", `Bearer "a\b"`, `"\`, `a="\`)
	seed("huge-authorization", "Bearer "+strings.Repeat("A", 17000), "", "")
	seed("huge-dpop", "DPoP "+bound, strings.Repeat("A", 9000), "")
	seed("proof-as-token", "DPoP "+proof, proof, "")
	seed("shr-as-proof", "DPoP "+bound, shr, "")
	seed("empty", "", "", "")
	seed("fragment-in-query", "PoP "+shr, "", "a=1#&b=2")
	seed("fragment-in-query-token", "", "", "access_token="+unbound+"#x")
	return f
}

func (f *fzFixture) request(auth, dpop, query string) *http.Request {
	rt := "/r"
	if query != "" {
		rt += "?" + query
	}
	r := &http.Request{
		Method: "GET", URL: &url.URL{Path: "/r", RawQuery: query}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Host: "api.test", RequestURI: rt, RemoteAddr: "192.0.2.1:1234", Body: http.NoBody,
	}
	if auth != "" {
		r.Header["Authorization"] = strings.Split(auth, "\n")
	}
	if dpop != "" {
		r.Header["Dpop"] = strings.Split(dpop, "\n")
	}
	return r
}

var fzCredRE = regexp.MustCompile(`^[ \t]*([!#$%&'*+.^_` + "`" + `|~0-9A-Za-z-]+) +([^ \t]+)[ \t]*$`)

// fzOracle says whether the request carries a credential valid on route,
// and whose.
func (f *fzFixture) fzOracle(rt fzRoute, r *http.Request) (ok bool, subject string) {
	if strings.IndexByte(r.RequestURI, '#') >= 0 {
		return false, "" // RFC 9112 §3.2: a request-target has no fragment
	}
	auth := r.Header["Authorization"]
	qs, _ := url.ParseQuery(r.URL.RawQuery) // r.URL.Query() drops malformed pairs too
	qtok := qs["access_token"]
	if len(auth) == 0 {
		if rt.query && len(qtok) == 1 && f.creds[qtok[0]] == fzUnbound {
			return true, "alice"
		}
		return false, ""
	}
	if len(auth) != 1 || len(qtok) != 0 {
		return false, ""
	}
	m := fzCredRE.FindStringSubmatch(auth[0])
	if m == nil {
		return false, ""
	}
	scheme, tok := strings.ToLower(m[1]), m[2]
	switch {
	case scheme == "bearer" && rt.bearer:
		if f.creds[tok] == fzUnbound {
			return true, "alice"
		}
	case scheme == "dpop" && rt.dpop:
		d := r.Header["Dpop"]
		if f.creds[tok] != fzDPoPTok || len(d) != 1 {
			return false, ""
		}
		switch f.creds[strings.Trim(d[0], " \t")] {
		case fzProofNonce:
			return true, "bob"
		case fzProof:
			return !rt.nonce, "bob"
		}
	case scheme == "pop" && rt.pop:
		if f.creds[tok] == fzSHR {
			return true, "carol"
		}
	}
	return false, ""
}

func (f *fzFixture) check(t *testing.T, auth, dpop, query string) {
	for _, rt := range f.routes {
		obs := &fzObs{}
		req := f.request(auth, dpop, query)
		req = req.WithContext(context.WithValue(context.Background(), fzObsKey{}, obs))
		rr := httptest.NewRecorder()
		rt.handler.ServeHTTP(rr, req)
		switch rr.Code {
		case 200, 400, 401, 403, 431, 503:
		default:
			t.Fatalf("%s: status %d", rt.name, rr.Code)
		}
		valid, subject := f.fzOracle(rt, f.request(auth, dpop, query))
		switch {
		case obs.ran > 1:
			t.Fatalf("%s: handler ran %d times", rt.name, obs.ran)
		case obs.ran == 1 && !valid:
			t.Fatalf("%s: handler ran for a request without a valid credential: Authorization %q DPoP %q query %q",
				rt.name, req.Header["Authorization"], req.Header["Dpop"], query)
		case obs.ran == 1 && (rr.Code != 200 || obs.res == nil || obs.res.Subject != subject):
			t.Fatalf("%s: handler ran with status %d, result %+v, want subject %q", rt.name, rr.Code, obs.res, subject)
		case obs.ran == 0 && rr.Code == 200:
			t.Fatalf("%s: 200 without the handler", rt.name)
		case obs.ran == 0 && valid:
			t.Fatalf("%s: a valid credential was refused (%d %q): Authorization %q DPoP %q query %q",
				rt.name, rr.Code, rr.Header().Values("WWW-Authenticate"), req.Header["Authorization"], req.Header["Dpop"], query)
		}
		fzHeadersSafe(t, rt.name, rr.Header())
		if rr.Code != 200 && rr.Body.Len() > 0 {
			var body map[string]string
			if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil {
				t.Fatalf("%s: error body %q: %v", rt.name, rr.Body.Bytes(), err)
			}
			for _, c := range []byte(body["error"] + body["error_description"]) {
				if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
					t.Fatalf("%s: error body %q has byte %#x", rt.name, rr.Body.Bytes(), c)
				}
			}
		}
	}
}

// fzHeadersSafe is checkHeadersSafe with t.Fatalf, for the fuzzer.
func fzHeadersSafe(t *testing.T, route string, hdr http.Header) {
	for name, vals := range hdr {
		for _, v := range vals {
			for i := 0; i < len(v); i++ {
				if v[i] < 0x20 || v[i] > 0x7e {
					t.Fatalf("%s: header %s value %q has byte %#x", route, name, v, v[i])
				}
			}
		}
	}
	for _, c := range hdr.Values("WWW-Authenticate") {
		if err := parseChallenge(c); err != nil {
			t.Fatalf("%s: WWW-Authenticate %q: %v", route, c, err)
		}
	}
}

func FuzzExtract(f *testing.F) {
	fx := newFzFixture(f)
	for _, s := range fx.seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, auth, dpop, query string) {
		fx.check(t, auth, dpop, query)
	})
}

// TestExtractSeeds runs the seeds in code and checks the oracle agrees with
// the fixture on the valid ones (a guard against a fuzz target that would
// never see a request go through).
func TestExtractSeeds(t *testing.T) {
	fx := newFzFixture(t)
	accepted := map[string]bool{}
	for name, s := range fx.seeds {
		t.Run(name, func(t *testing.T) {
			fx.check(t, s[0], s[1], s[2])
			for _, rt := range fx.routes {
				if ok, _ := fx.fzOracle(rt, fx.request(s[0], s[1], s[2])); ok {
					accepted[name] = true
				}
			}
		})
	}
	for _, name := range []string{"bearer", "bearer-ows", "dpop", "dpop-nonce", "pop", "query-token", "query-token-encoded-name"} {
		if !accepted[name] {
			t.Errorf("seed %s is accepted on no route", name)
		}
	}
}

// TestWriteFuzzExtractSeeds rewrites testdata/fuzz/FuzzExtract from the
// fixture's seeds (set POPGUARD_WRITE_FUZZ_SEEDS=1).
func TestWriteFuzzExtractSeeds(t *testing.T) {
	if os.Getenv("POPGUARD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POPGUARD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzExtract")
	}
	fx := newFzFixture(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzExtract")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range fx.seeds {
		if len(s[0])+len(s[1])+len(s[2]) > 8192 {
			continue // the huge seeds stay in code
		}
		body := fmt.Sprintf("go test fuzz v1\nstring(%s)\nstring(%s)\nstring(%s)\n", strconv.Quote(s[0]), strconv.Quote(s[1]), strconv.Quote(s[2]))
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
