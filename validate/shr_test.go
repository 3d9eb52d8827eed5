package validate_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/shrwire"
	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/validate"
)

const (
	shrIssuer = "https://login.example.test/tenant/v2.0"
	shrAud    = "api://contoso-api"
	shrHost   = "api.contoso.com"
	shrPath   = "/v1/items/42"
)

// shrEnv is an issuer, a token verifier for Entra-style tokens and the
// client keys; built once (RSA key generation is slow).
type shrEnv struct {
	iss     *jwsIssuer
	tokens  *validate.JWTVerifier
	net     *jwsKey // MSAL.NET: PS256
	browser *jwsKey // msal-browser: RS256
	ec      *jwsKey // ES256
	other   *jwsKey // an attacker's PS256 key
	weak    *jwsKey // RSA-1024
}

var shrEnvOnce = sync.OnceValue(func() *shrEnv {
	iss := newJWSIssuer(shrIssuer)
	keys, err := validate.NewStaticKeySet(iss.JWKS())
	if err != nil {
		panic(err)
	}
	tokens, err := validate.NewJWTVerifier(shrIssuer, keys, validate.Audience(shrAud), validate.UseProfile(validate.Entra()))
	if err != nil {
		panic(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return &shrEnv{
		iss: iss, tokens: tokens,
		net: newJWSKey("PS256"), browser: newJWSKey("RS256"), ec: newJWSKey("ES256"),
		other: newJWSKey("PS256"), weak: &jwsKey{Alg: "RS256", Signer: weak},
	}
})

// withEntraClaims adds what an Entra ID v2.0 access token of the tenant
// "tenant" carries to extra: tid, ver, nbf, scp and azp.
func withEntraClaims(extra map[string]any, scope, client string) map[string]any {
	out := map[string]any{"tid": "tenant", "ver": "2.0", "nbf": time.Now().Add(-time.Minute).Unix(), "scp": scope, "azp": client}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func entraCnf(k *jwsKey) map[string]any {
	return map[string]any{"kid": k.Thumbprint(), "xms_ksl": "sw"}
}

// token mints an Entra-style access token (typ JWT) with cnf.
func (e *shrEnv) token(t testing.TB, cnf map[string]any, mod ...func(*jwsTokenOptions)) string {
	t.Helper()
	o := jwsTokenOptions{Subject: "alice", ClientID: "client-1", Audience: shrAud, Scope: "items.read", Typ: "JWT", Cnf: cnf}
	for _, m := range mod {
		m(&o)
	}
	o.Extra = withEntraClaims(o.Extra, o.Scope, o.ClientID)
	at, err := e.iss.Token(o)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func (e *shrEnv) verifier(t testing.TB, opts ...validate.Option) *validate.SHRVerifier {
	t.Helper()
	v, err := validate.NewSHRVerifier(e.tokens, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func shrBaseOpts() shrOptions {
	return shrOptions{Method: "GET", Host: shrHost, Path: shrPath, Format: shrMSALNet}
}

func shrBaseReq() validate.SHRRequest {
	return validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: shrPath, Header: http.Header{}}
}

func mustSHR(t testing.TB, k *jwsKey, at string, o shrOptions) string {
	t.Helper()
	s, err := k.SHR(at, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shrSet returns the JSON object obj with member name set to raw (appended
// if absent), or removed when raw is "".
func shrSet(t testing.TB, obj []byte, name, raw string) []byte {
	t.Helper()
	members, err := jose.ParseObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteByte('{')
	found := false
	write := func(n, v string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		nb, _ := json.Marshal(n)
		b.Write(nb)
		b.WriteByte(':')
		b.WriteString(v)
	}
	for _, m := range members {
		if m.Name == name {
			found = true
			if raw != "" {
				write(name, raw)
			}
			continue
		}
		write(m.Name, string(m.Value))
	}
	if !found && raw != "" {
		write(name, raw)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

func shrMemberNames(t testing.TB, obj []byte) []string {
	t.Helper()
	members, err := jose.ParseObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range members {
		names = append(names, m.Name)
	}
	return names
}

func wantSHRErr(t testing.TB, err error, code popguard.ErrorCode, reason popguard.Reason) {
	t.Helper()
	var pe *popguard.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want *popguard.Error %s/%s", err, err, code, reason)
	}
	if pe.Code != code || pe.Reason != reason {
		t.Fatalf("error = %v, want %s (%s)", err, code, reason)
	}
}

type shrNonces struct{ good string }

func (n shrNonces) Issue() string { return n.good }

func (n shrNonces) Check(s string) (bool, error) {
	if s == n.good {
		return true, nil
	}
	return false, errors.New("unknown nonce")
}

// --- positive cases ---------------------------------------------------------

func TestSHRMSALNet(t *testing.T) {
	e := shrEnvOnce()
	at := e.token(t, entraCnf(e.net))
	o := shrBaseOpts()
	hdr, pl, err := e.net.SHRParts(at, o)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"alg":"PS256","kid":"` + e.net.Thumbprint() + `","typ":"pop"}`; string(hdr) != want {
		t.Fatalf("header = %s, want %s", hdr, want)
	}
	if got, want := shrMemberNames(t, pl), []string{"cnf", "ts", "at", "nonce", "m", "u", "p"}; !slices.Equal(got, want) {
		t.Fatalf("payload members = %v, want %v", got, want)
	}
	if !strings.HasPrefix(string(pl), `{"cnf":{"jwk":{"e":"AQAB","kty":"RSA","n":"`) {
		t.Fatalf("cnf.jwk is not MSAL.NET's canonical JWK: %.60s", pl)
	}
	shr, err := e.net.SignRaw(hdr, pl)
	if err != nil {
		t.Fatal(err)
	}
	v := e.verifier(t)
	got, err := v.Verify(context.Background(), shr, shrBaseReq())
	if err != nil {
		t.Fatal(err)
	}
	if got.Thumbprint != e.net.Thumbprint() || got.Token.Subject != "alice" || got.Token.Cnf.KID != e.net.Thumbprint() {
		t.Fatalf("unexpected result %+v", got)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got.Nonce) {
		t.Fatalf("nonce %q is not 32 hex digits", got.Nonce)
	}
	if d := time.Since(got.Timestamp); d < 0 || d > 2*time.Second {
		t.Fatalf("timestamp %v", got.Timestamp)
	}
	if got.ReplayKey() == "" {
		t.Fatal("empty replay key")
	}
	if v.Window() != 5*time.Minute+30*time.Second || !slices.Equal(v.Algs(), validate.DefaultSHRAlgs()) {
		t.Fatalf("defaults: window %v algs %v", v.Window(), v.Algs())
	}
}

// TestSHRAccepted covers the positive variants of the request binding.
func TestSHRAccepted(t *testing.T) {
	e := shrEnvOnce()
	now := time.Now()
	cases := []struct {
		name   string
		key    *jwsKey
		cnf    func(e *shrEnv) map[string]any
		opts   func(*shrOptions)
		tamper func(t testing.TB, h, p []byte) ([]byte, []byte)
		req    func(*validate.SHRRequest)
		vopts  []validate.Option
	}{
		{name: "u upper case", opts: func(o *shrOptions) { o.Host = "API.Contoso.COM" }},
		{name: "u with explicit default port", opts: func(o *shrOptions) { o.Host = shrHost + ":443" }},
		{name: "request host with explicit default port", req: func(r *validate.SHRRequest) { r.Host = shrHost + ":443" }},
		{name: "http default port", opts: func(o *shrOptions) { o.Host = shrHost + ":80" }, req: func(r *validate.SHRRequest) { r.Scheme = "http" }},
		{name: "non-default port", opts: func(o *shrOptions) { o.Host = shrHost + ":8443" }, req: func(r *validate.SHRRequest) { r.Host = shrHost + ":8443" }},
		{name: "ipv6 literal", opts: func(o *shrOptions) { o.Host = "[2001:db8::1]:8443" }, req: func(r *validate.SHRRequest) { r.Host = "[2001:DB8::1]:8443" }},
		{name: "ipv6 loopback", opts: func(o *shrOptions) { o.Host = "[::1]:8080" }, req: func(r *validate.SHRRequest) { r.Host = "[::1]:8080" }},
		{name: "ipv4 address", opts: func(o *shrOptions) { o.Host = "127.0.0.1" }, req: func(r *validate.SHRRequest) { r.Host = "127.0.0.1" }},
		{name: "request host with an empty port", req: func(r *validate.SHRRequest) { r.Host = shrHost + ":" }},
		{name: "percent hex case", opts: func(o *shrOptions) { o.Path = "/v1/a%2fb" }, req: func(r *validate.SHRRequest) { r.Path = "/v1/a%2Fb" }},
		{name: "root path", opts: func(o *shrOptions) { o.Path = "/" }, req: func(r *validate.SHRRequest) { r.Path = "" }},
		{name: "ts at future skew", opts: func(o *shrOptions) { o.TS = now.Add(25 * time.Second) }},
		{name: "ts near max age", opts: func(o *shrOptions) { o.TS = now.Add(-4 * time.Minute) }},
		{name: "typ JWT with SHR shape", opts: func(o *shrOptions) { o.Typ = "JWT" }},
		{name: "typ absent with SHR shape", opts: func(o *shrOptions) { o.Typ = "-" }},
		{name: "typ POP upper case", opts: func(o *shrOptions) { o.Typ = "POP" }},
		{name: "typ application/pop", opts: func(o *shrOptions) { o.Typ = "application/pop" }},
		{name: "kid header absent", tamper: func(t testing.TB, h, p []byte) ([]byte, []byte) { return shrSet(t, h, "kid", ""), p }},
		{name: "kid header of unknown form ignored", tamper: func(t testing.TB, h, p []byte) ([]byte, []byte) { return shrSet(t, h, "kid", `"key-1"`), p }},
		{name: "kid header in msal-browser form", tamper: func(t testing.TB, h, p []byte) ([]byte, []byte) {
			return shrSet(t, h, "kid", `"`+shrReqCnf(e.net.Thumbprint())+`"`), p
		}},
		{name: "cnf.jwk with alg ext key_ops kid", opts: func(o *shrOptions) {
			o.ExtraJWK = map[string]any{"alg": "PS256", "ext": true, "key_ops": []string{"verify"}, "kid": "some-other-id", "use": "sig"}
		}},
		{name: "ES256", key: e.ec, cnf: func(e *shrEnv) map[string]any { return entraCnf(e.ec) }},
		{name: "token with cnf.jwk", cnf: func(e *shrEnv) map[string]any { return map[string]any{"jwk": e.net.PublicJWK(nil)} }},
		{name: "token with cnf.jwk, SHR without cnf", cnf: func(e *shrEnv) map[string]any { return map[string]any{"jwk": e.net.PublicJWK(nil)} },
			tamper: func(t testing.TB, h, p []byte) ([]byte, []byte) { return h, shrSet(t, p, "cnf", "") }},
		{name: "q raw form on query-less request", opts: func(o *shrOptions) { o.Q = shrQRaw("") }},
		{name: "q empty IdentityModel form", opts: func(o *shrOptions) { o.Q = shrQHash("") }},
		{name: "q covers the whole query", opts: func(o *shrOptions) { o.RawQuery = "a=1&b=2"; o.Q = shrQHash("a=1&b=2") },
			req: func(r *validate.SHRRequest) { r.RawQuery = "a=1&b=2" }, vopts: []validate.Option{validate.SHRRequireQuery()}},
		{name: "q raw form covers the whole query", opts: func(o *shrOptions) { o.Q = shrQRaw("a=1&a=2&flag") },
			req: func(r *validate.SHRRequest) { r.RawQuery = "a=1&a=2&flag" }, vopts: []validate.Option{validate.SHRRequireQuery()}},
		{name: "unsigned query accepted by default", req: func(r *validate.SHRRequest) { r.RawQuery = "debug=1" }},
		{name: "required header absent needs no h", vopts: []validate.Option{validate.SHRRequireHeaders("X-Client-Id")}},
		{name: "h name case differs", opts: func(o *shrOptions) {
			o.H = shrHHash(http.Header{"X-Client-Id": {"abc"}}, "X-Client-Id")
			o.H.Names = []string{"X-CLIENT-ID"}
			o.H.Hash = jose.HashB64("X-CLIENT-ID: abc")
		}, req: func(r *validate.SHRRequest) { r.Header.Set("X-Client-Id", "abc") }, vopts: []validate.Option{validate.SHRRequireHeaders("x-client-id")}},
		{name: "b on GET with empty body", opts: func(o *shrOptions) { o.Body = []byte{} }},
		{name: "nonce accepted", opts: func(o *shrOptions) { o.Nonce = "server-nonce-1" },
			req: func(r *validate.SHRRequest) { r.Nonces = shrNonces{"server-nonce-1"} }},
		{name: "custom algs", key: e.browser, cnf: func(e *shrEnv) map[string]any { return entraCnf(e.browser) }, vopts: []validate.Option{validate.Algs("RS256")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := e.net
			if tc.key != nil {
				key = tc.key
			}
			cnf := entraCnf(e.net)
			if tc.cnf != nil {
				cnf = tc.cnf(e)
			}
			at := e.token(t, cnf)
			o := shrBaseOpts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			h, p, err := key.SHRParts(at, o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tamper != nil {
				h, p = tc.tamper(t, h, p)
			}
			shr, err := key.SignRaw(h, p)
			if err != nil {
				t.Fatal(err)
			}
			req := shrBaseReq()
			if tc.req != nil {
				tc.req(&req)
			}
			got, err := e.verifier(t, tc.vopts...).Verify(context.Background(), shr, req)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Thumbprint != key.Thumbprint() {
				t.Fatalf("thumbprint %s, want %s", got.Thumbprint, key.Thumbprint())
			}
		})
	}
}

func TestSHRMSALBrowser(t *testing.T) {
	e := shrEnvOnce()
	k := e.browser
	at := e.token(t, entraCnf(k))
	ctx := context.Background()

	// Exact bytes of the format.
	o := shrOptions{Method: "get", Host: "API.Contoso.com", Path: "/Api/Items", RawQuery: "Filter=Active", Format: shrMSALBrowser}
	hdr, pl, err := k.SHRParts(at, o)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"typ":"pop","alg":"RS256","kid":"` + shrReqCnf(k.Thumbprint()) + `"}`; string(hdr) != want {
		t.Fatalf("header = %s, want %s", hdr, want)
	}
	if got, want := shrMemberNames(t, pl), []string{"at", "ts", "m", "u", "nonce", "p", "q", "cnf"}; !slices.Equal(got, want) {
		t.Fatalf("payload members = %v, want %v", got, want)
	}
	for _, frag := range []string{`"m":"GET"`, `"u":"api.contoso.com"`, `"p":"/api/items"`, `"q":[[],"filter=active"]`, `"cnf":{"jwk":{"alg":"RS256","e":"AQAB","ext":true,"key_ops":["verify"],"kty":"RSA","n":"`} {
		if !strings.Contains(string(pl), frag) {
			t.Fatalf("payload lacks %s: %s", frag, pl)
		}
	}
	if !regexp.MustCompile(`"nonce":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"`).Match(pl) {
		t.Fatalf("nonce is not a UUID: %s", pl)
	}
	mixed, err := k.SignRaw(hdr, pl)
	if err != nil {
		t.Fatal(err)
	}
	mixedReq := validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/Api/Items", RawQuery: "Filter=Active"}
	// A mixed-case URL needs the compatibility option.
	_, err = e.verifier(t).Verify(ctx, mixed, mixedReq)
	wantSHRErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRP)
	compat := e.verifier(t, validate.MSALBrowserCompat())
	if _, err := compat.Verify(ctx, mixed, mixedReq); err != nil {
		t.Fatalf("compat, mixed case with query: %v", err)
	}

	// No query: msal-browser appends '/' to the path.
	noQuery := mustSHR(t, k, at, shrOptions{Method: "GET", Host: shrHost, Path: "/Api/Items", Format: shrMSALBrowser})
	noQueryReq := validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/Api/Items"}
	if _, err := compat.Verify(ctx, noQuery, noQueryReq); err != nil {
		t.Fatalf("compat, trailing slash: %v", err)
	}
	_, err = e.verifier(t).Verify(ctx, noQuery, noQueryReq)
	wantSHRErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRP)

	// Lower-case percent hex from the browser matches upper-case on the wire.
	pct := mustSHR(t, k, at, shrOptions{Method: "GET", Host: shrHost, Path: "/A%2FB", RawQuery: "x=1", Format: shrMSALBrowser})
	if _, err := compat.Verify(ctx, pct, validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/A%2FB", RawQuery: "x=1"}); err != nil {
		t.Fatalf("compat, percent-encoded path: %v", err)
	}

	// Lower-case paths verify without the option.
	for _, tc := range []struct{ path, query string }{{"/api/items", "x=1"}, {"/api/items/", ""}} {
		shr := mustSHR(t, k, at, shrOptions{Method: "GET", Host: shrHost, Path: tc.path, RawQuery: tc.query, Format: shrMSALBrowser})
		req := validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: tc.path, RawQuery: tc.query}
		if _, err := e.verifier(t, validate.SHRRequireQuery()).Verify(ctx, shr, req); err != nil {
			t.Fatalf("exact case %s?%s: %v", tc.path, tc.query, err)
		}
	}

	// The option stays narrow.
	narrow := []struct {
		name   string
		o      shrOptions
		tamper func(p []byte) []byte
		req    validate.SHRRequest
		reason popguard.Reason
	}{
		{name: "upper-case p is compared exactly",
			o:      shrOptions{Method: "GET", Host: shrHost, Path: "/api/items", RawQuery: "x=1", Format: shrMSALBrowser},
			tamper: func(p []byte) []byte { return shrSet(t, p, "p", `"/API/items"`) },
			req:    validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/api/Items", RawQuery: "x=1"}, reason: popguard.ReasonSHRP},
		{name: "trailing slash only without a query",
			o:      shrOptions{Method: "GET", Host: shrHost, Path: "/api/items", RawQuery: "x=1", Format: shrMSALBrowser},
			tamper: func(p []byte) []byte { return shrSet(t, p, "p", `"/api/items/"`) },
			req:    validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/api/items", RawQuery: "x=1"}, reason: popguard.ReasonSHRP},
		{name: "only one trailing slash",
			o:   shrOptions{Method: "GET", Host: shrHost, Path: "/api/items//", Format: shrMSALBrowser},
			req: validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/api/items"}, reason: popguard.ReasonSHRP},
		{name: "other path",
			o:   shrOptions{Method: "GET", Host: shrHost, Path: "/api/other", Format: shrMSALBrowser},
			req: validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/api/Items"}, reason: popguard.ReasonSHRP},
		{name: "upper-case percent hex is not msal-browser's",
			o:      shrOptions{Method: "GET", Host: shrHost, Path: "/a%2fb", RawQuery: "x=1", Format: shrMSALBrowser},
			tamper: func(p []byte) []byte { return shrSet(t, p, "p", `"/a%2Fb"`) },
			req:    validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/A%2fB", RawQuery: "x=1"}, reason: popguard.ReasonSHRP},
		{name: "raw q mismatch",
			o:   shrOptions{Method: "GET", Host: shrHost, Path: "/api/items", RawQuery: "x=1", Format: shrMSALBrowser},
			req: validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/api/items", RawQuery: "x=2"}, reason: popguard.ReasonSHRQ},
		{name: "raw q with an extra parameter",
			o:   shrOptions{Method: "GET", Host: shrHost, Path: "/api/items", RawQuery: "x=1", Format: shrMSALBrowser},
			req: validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/api/items", RawQuery: "x=1&admin=true"}, reason: popguard.ReasonSHRQ},
	}
	for _, tc := range narrow {
		t.Run(tc.name, func(t *testing.T) {
			h, p, err := k.SHRParts(at, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tamper != nil {
				p = tc.tamper(p)
			}
			shr, err := k.SignRaw(h, p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = compat.Verify(ctx, shr, tc.req)
			wantSHRErr(t, err, popguard.CodeInvalidToken, tc.reason)
		})
	}

	// A mixed-case query differs from the lower-cased q without the option.
	_, err = e.verifier(t).Verify(ctx, mustSHR(t, k, at, shrOptions{Method: "GET", Host: shrHost, Path: "/api/items", RawQuery: "X=1", Format: shrMSALBrowser}),
		validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: "/api/items", RawQuery: "X=1"})
	wantSHRErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRQ)
}

// TestSHRIdentityModelWorkedExample follows Microsoft.IdentityModel's
// canonicalization of q and h (draft-ietf-oauth-signed-http-request-03
// §3.2, §7.5) on one request, step by step.
func TestSHRIdentityModelWorkedExample(t *testing.T) {
	e := shrEnvOnce()
	const rawQuery = "api-version=2024-01-01&filter=a%20b&tag=x&tag=y&empty="
	body := []byte(`{"name":"x"}`)
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Client-Id", "abc123")
	hdr.Set("Authorization", "PoP eyJ...")
	hdr.Set("Accept", "*/*")

	q := shrQHash(rawQuery, "api-version", "filter")
	h := shrHHash(hdr, "content-type", "x-client-id")
	if q.Value != "Hyq3efpKZC79nFRjMPF34Wqgnx1ULx20beBcz8AH9Yw" {
		t.Fatalf("q = %s", q.Value)
	}
	if h.Hash != "Wb39o-BKAZvdozFSRdGjxdM9JgHh4TtzXiyrG2OmZU8" {
		t.Fatalf("h = %s", h.Hash)
	}
	if b := shrBodyHash(body); b != "AinTfjParhSb9AVDpc4dtEWdEPgw1ROSeaor_V9khaE" {
		t.Fatalf("b = %s", b)
	}
	if all := shrQHash(rawQuery); !slices.Equal(all.Names, []string{"api-version", "filter"}) || all.Value != q.Value {
		t.Fatalf("QHash of every parameter = %+v", all)
	}

	at := e.token(t, entraCnf(e.net))
	o := shrOptions{Method: "POST", Host: shrHost + ":8443", Path: shrPath, Q: q, H: h, Body: body, Format: shrIdentityModel}
	_, pl, err := e.net.SHRParts(at, o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := shrMemberNames(t, pl), []string{"at", "ts", "m", "u", "p", "q", "h", "b", "nonce", "cnf"}; !slices.Equal(got, want) {
		t.Fatalf("payload members = %v, want %v", got, want)
	}
	shr := mustSHR(t, e.net, at, o)
	calls := 0
	req := validate.SHRRequest{Method: "POST", Scheme: "https", Host: shrHost + ":8443", Path: shrPath, RawQuery: rawQuery, Header: hdr,
		Body: func() ([]byte, error) { calls++; return body, nil }}
	v := e.verifier(t, validate.SHRRequireHeaders("Content-Type", "X-Client-Id"), validate.SHRRequireBody("POST", "PUT"))
	if _, err := v.Verify(context.Background(), shr, req); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("Body called %d times", calls)
	}
	// tag (repeated) and empty= (empty value) cannot be covered.
	_, err = e.verifier(t, validate.SHRRequireQuery()).Verify(context.Background(), shr, req)
	wantSHRErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRQ)
	// Accept is present but not required: fine. Requiring it is not.
	_, err = e.verifier(t, validate.SHRRequireHeaders("accept")).Verify(context.Background(), shr, req)
	wantSHRErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRH)
}

type shrVectors struct {
	Q []struct {
		RawQuery string   `json:"raw_query"`
		Names    []string `json:"names"`
		Buffer   string   `json:"buffer"`
		Hash     string   `json:"hash"`
	} `json:"q"`
	H []struct {
		Headers [][2]string `json:"headers"`
		Names   []string    `json:"names"`
		Buffer  string      `json:"buffer"`
		Hash    string      `json:"hash"`
	} `json:"h"`
	HDraftCRLF string `json:"h_draft_crlf"`
	B          []struct {
		Body string `json:"body"`
		Hash string `json:"hash"`
	} `json:"b"`
}

// TestSHRCanonicalizationVectors runs the validator's own q and h code on
// the vectors in testdata/shr/vectors.json
// (draft-ietf-oauth-signed-http-request-03 §3.2, as IdentityModel computes
// them). internal/sign's TestCanonicalizationVectors runs the client side's
// QHash, HHash and BodyHash on the same vectors.
func TestSHRCanonicalizationVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/shr/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vec shrVectors
	if err := json.Unmarshal(raw, &vec); err != nil {
		t.Fatal(err)
	}
	if len(vec.Q) != 3 || len(vec.H) != 3 || len(vec.B) != 2 {
		t.Fatalf("vectors: %d q, %d h, %d b", len(vec.Q), len(vec.H), len(vec.B))
	}
	v := shrEnvOnce().verifier(t)
	for _, q := range vec.Q {
		buf, why := validate.SHRQueryBuffer(q.RawQuery, q.Names)
		if why != "" || buf != q.Buffer || jose.HashB64(buf) != q.Hash {
			t.Errorf("q %q: buffer %q (%s), hash %s; want %q %s", q.RawQuery, buf, why, jose.HashB64(buf), q.Buffer, q.Hash)
		}
		if err := v.CheckQuery(&shrwire.List{Names: q.Names, Value: q.Hash}, q.RawQuery); err != nil {
			t.Errorf("checkQuery %q: %v", q.RawQuery, err)
		}
	}
	// Decoding would give another hash: the raw query is what counts.
	if err := v.CheckQuery(&shrwire.List{Names: []string{"q", "x"}, Value: "sAmNGxwQ-T_WlRrrSlOA4Fg8DHtNtCvizftk7muxXfo"}, "q=a%20b&x=~"); err == nil {
		t.Error("q: a pct-normalized query matched the raw-query hash")
	}
	for _, h := range vec.H {
		hdr := http.Header{}
		for _, kv := range h.Headers {
			hdr.Add(kv[0], kv[1])
		}
		if err := v.CheckHeaders(&shrwire.List{Names: h.Names, Value: h.Hash}, hdr); err != nil {
			t.Errorf("checkHeaders %v: %v", h.Names, err)
		}
		if jose.HashB64(h.Buffer) != h.Hash {
			t.Errorf("h buffer %q does not hash to %s", h.Buffer, h.Hash)
		}
		if len(h.Names) == 2 && h.Names[1] == "etag" {
			// The draft's printed value was computed with CRLF.
			err := v.CheckHeaders(&shrwire.List{Names: h.Names, Value: vec.HDraftCRLF}, hdr)
			wantSHRErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRH)
		}
	}
	for _, b := range vec.B {
		sum := sha256.Sum256([]byte(b.Body))
		if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != b.Hash {
			t.Errorf("b %q = %s, want %s", b.Body, got, b.Hash)
		}
	}
	if jose.HashB64("") != validate.SHREmptyHash {
		t.Error("shrEmptyHash")
	}
}

// --- rejections ------------------------------------------------------------

type shrRejectCase struct {
	name   string
	key    *jwsKey                              // signs; default e.net
	token  func(t testing.TB, e *shrEnv) string // default Entra token bound to e.net
	opts   func(o *shrOptions)                  // on shrBaseOpts
	tamper func(t testing.TB, h, p []byte) ([]byte, []byte)
	build  func(t testing.TB, e *shrEnv, at string) string // replaces the SHR
	req    func(r *validate.SHRRequest)
	vopts  []validate.Option
	code   popguard.ErrorCode // default invalid_token
	reason popguard.Reason
}

func shrRejectCases(e *shrEnv) []shrRejectCase {
	now := time.Now()
	setP := func(name, raw string) func(t testing.TB, h, p []byte) ([]byte, []byte) {
		return func(t testing.TB, h, p []byte) ([]byte, []byte) { return h, shrSet(t, p, name, raw) }
	}
	setH := func(name, raw string) func(t testing.TB, h, p []byte) ([]byte, []byte) {
		return func(t testing.TB, h, p []byte) ([]byte, []byte) { return shrSet(t, h, name, raw), p }
	}
	tokenFor := func(cnf map[string]any, mod ...func(*jwsTokenOptions)) func(t testing.TB, e *shrEnv) string {
		return func(t testing.TB, e *shrEnv) string { return e.token(t, cnf, mod...) }
	}
	workedHeader := func(r *validate.SHRRequest) {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Client-Id", "abc123")
	}
	hOpt := func(names ...string) func(o *shrOptions) {
		return func(o *shrOptions) {
			hdr := http.Header{}
			hdr.Set("Content-Type", "application/json")
			hdr.Set("X-Client-Id", "abc123")
			hdr.Set("Authorization", "PoP x")
			o.H = shrHHash(hdr, names...)
		}
	}
	const query = "a=1&b=2&tag=x&tag=y"
	qOpt := func(names ...string) func(o *shrOptions) {
		return func(o *shrOptions) { o.RawQuery = query; o.Q = shrQHash(query, names...) }
	}
	withQuery := func(r *validate.SHRRequest) { r.RawQuery = query }
	// badHost: a request host outside the host grammar, repeated by u.
	badHost := func(name, host string) shrRejectCase {
		return shrRejectCase{name: "request host " + name + ", u the same",
			opts: func(o *shrOptions) { o.Host = host }, req: func(r *validate.SHRRequest) { r.Host = host },
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestBadTarget}
	}
	hsSHR := func(t testing.TB, e *shrEnv, at string) string {
		_, p, err := e.net.SHRParts(at, shrBaseOpts())
		if err != nil {
			t.Fatal(err)
		}
		in := shrB64(`{"alg":"HS256","typ":"pop"}`) + "." + base64.RawURLEncoding.EncodeToString(p)
		m := hmac.New(sha256.New, []byte(e.net.Thumbprint()))
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return []shrRejectCase{
		// Structure.
		{name: "empty", build: func(testing.TB, *shrEnv, string) string { return "" }, reason: popguard.ReasonSHRMalformed},
		{name: "garbage", build: func(testing.TB, *shrEnv, string) string { return "not.a.jws" }, reason: popguard.ReasonSHRMalformed},
		{name: "too large", opts: func(o *shrOptions) { o.ExtraClaims = map[string]any{"pad": strings.Repeat("x", 20000)} }, reason: popguard.ReasonSHRMalformed},
		{name: "duplicate claim", tamper: func(t testing.TB, h, p []byte) ([]byte, []byte) {
			return h, []byte(strings.Replace(string(p), `"m":"GET"`, `"m":"GET","m":"POST"`, 1))
		}, reason: popguard.ReasonSHRMalformed},
		{name: "crit header", tamper: setH("crit", `["exp"]`), reason: popguard.ReasonSHRMalformed},
		{name: "at missing", tamper: setP("at", ""), reason: popguard.ReasonSHRMalformed},
		{name: "at number", tamper: setP("at", "12"), reason: popguard.ReasonSHRMalformed},
		{name: "nonce number", tamper: setP("nonce", "12"), reason: popguard.ReasonSHRMalformed},

		// typ.
		{name: "typ dpop+jwt", opts: func(o *shrOptions) { o.Typ = "dpop+jwt" }, reason: popguard.ReasonSHRTyp},
		{name: "typ at+jwt", opts: func(o *shrOptions) { o.Typ = "at+jwt" }, reason: popguard.ReasonSHRTyp},
		{name: "typ popx", opts: func(o *shrOptions) { o.Typ = "popx" }, reason: popguard.ReasonSHRTyp},
		{name: "typ JWT with htm", opts: func(o *shrOptions) { o.Typ = "JWT"; o.ExtraClaims = map[string]any{"htm": "GET"} }, reason: popguard.ReasonSHRTyp},
		{name: "typ absent with htu", opts: func(o *shrOptions) {
			o.Typ = "-"
			o.ExtraClaims = map[string]any{"htu": "https://" + shrHost + shrPath}
		}, reason: popguard.ReasonSHRTyp},
		{name: "DPoP proof as SHR", build: func(t testing.TB, e *shrEnv, at string) string {
			p, err := e.ec.JWS(map[string]any{"typ": "dpop+jwt", "jwk": e.ec.PublicJWK(nil)},
				map[string]any{"jti": jwsRandomID(), "htm": "GET", "htu": "https://" + shrHost + shrPath, "iat": time.Now().Unix(), "ath": dpopATH(at)})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, reason: popguard.ReasonSHRTyp},
		{name: "access token as SHR", build: func(t testing.TB, e *shrEnv, at string) string { return at }, reason: popguard.ReasonSHRMalformed},

		// alg.
		{name: "alg none", build: func(t testing.TB, e *shrEnv, at string) string {
			_, p, _ := e.net.SHRParts(at, shrBaseOpts())
			return shrB64(`{"alg":"none","typ":"pop"}`) + "." + base64.RawURLEncoding.EncodeToString(p) + ".AAAA"
		}, reason: popguard.ReasonSHRAlg},
		{name: "alg HS256 keyed with the thumbprint", build: hsSHR, reason: popguard.ReasonSHRAlg},
		{name: "alg not allowed", key: e.browser, token: tokenFor(entraCnf(e.browser)), vopts: []validate.Option{validate.Algs("PS256")}, reason: popguard.ReasonSHRAlg},
		{name: "alg does not fit key", tamper: setH("alg", `"ES256"`), reason: popguard.ReasonSHRAlg},

		// Key: header members, kid, cnf.
		{name: "jwk header", tamper: func(t testing.TB, h, p []byte) ([]byte, []byte) {
			j, _ := json.Marshal(e.net.PublicJWK(nil))
			return shrSet(t, h, "jwk", string(j)), p
		}, reason: popguard.ReasonSHRKey},
		{name: "jku header", tamper: setH("jku", `"https://evil.example/jwks"`), reason: popguard.ReasonSHRKey},
		{name: "x5c header", tamper: setH("x5c", `["MIIB"]`), reason: popguard.ReasonSHRKey},
		{name: "kid names another key", tamper: setH("kid", `"`+e.other.Thumbprint()+`"`), reason: popguard.ReasonSHRKey},
		{name: "msal-browser kid names another key", tamper: setH("kid", `"`+shrReqCnf(e.other.Thumbprint())+`"`), reason: popguard.ReasonSHRKey},
		{name: "SHR cnf.jwk not the token's cnf.kid", key: e.other, reason: popguard.ReasonTokenKeyBinding},
		{name: "signed by another key than cnf.jwk", key: e.other, tamper: func(t testing.TB, h, p []byte) ([]byte, []byte) {
			j, _ := json.Marshal(map[string]any{"jwk": e.net.PublicJWK(nil)})
			return shrSet(t, h, "kid", ""), shrSet(t, p, "cnf", string(j))
		}, reason: popguard.ReasonSHRSignature},
		{name: "SHR without cnf", tamper: setP("cnf", ""), reason: popguard.ReasonSHRKey},
		{name: "cnf not an object", tamper: setP("cnf", `"x"`), reason: popguard.ReasonSHRKey},
		{name: "cnf.jwk not an object", tamper: setP("cnf", `{"jwk":"x"}`), reason: popguard.ReasonSHRKey},
		{name: "private key in cnf.jwk", opts: func(o *shrOptions) { o.ExtraJWK = map[string]any{"d": "AAAA"} }, reason: popguard.ReasonSHRKey},
		{name: "RSA-1024", key: e.weak, token: tokenFor(entraCnf(e.weak)), reason: popguard.ReasonSHRKey},

		// The access token.
		{name: "at of another key", token: tokenFor(entraCnf(e.other)), reason: popguard.ReasonTokenKeyBinding},
		{name: "at signed by another issuer", token: func(t testing.TB, e *shrEnv) string {
			rogue := &jwsIssuer{URL: shrIssuer, KID: e.iss.KID, Key: newJWSKey("ES256")}
			at, err := rogue.Token(jwsTokenOptions{Subject: "alice", ClientID: "client-1", Audience: shrAud, Typ: "JWT", Cnf: entraCnf(e.net), Extra: withEntraClaims(nil, "", "client-1")})
			if err != nil {
				t.Fatal(err)
			}
			return at
		}, reason: popguard.ReasonTokenSignature},
		{name: "at expired", token: tokenFor(entraCnf(e.net), func(o *jwsTokenOptions) { o.IssuedAt = now.Add(-2 * time.Hour) }), reason: popguard.ReasonTokenExpired},
		{name: "at for another audience", token: tokenFor(entraCnf(e.net), func(o *jwsTokenOptions) { o.Audience = "api://other" }), reason: popguard.ReasonTokenAudience},
		{name: "at without cnf", token: tokenFor(nil), reason: popguard.ReasonTokenNotBound},
		{name: "at DPoP-bound (cnf.jkt)", token: tokenFor(map[string]any{"jkt": e.net.Thumbprint()}), reason: popguard.ReasonTokenKeyBinding},
		{name: "at mTLS-bound", token: tokenFor(map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}), reason: popguard.ReasonTokenKeyBinding},
		{name: "at bound by jwe", token: tokenFor(map[string]any{"jwe": "eyJ..."}), reason: popguard.ReasonTokenKeyBinding},
		{name: "at bound by jku", token: tokenFor(map[string]any{"jku": "https://client.example/jwks", "kid": e.net.Thumbprint()}), reason: popguard.ReasonSHRKey},
		{name: "at cnf.jwk private", token: tokenFor(map[string]any{"jwk": e.net.PublicJWK(map[string]any{"d": "AAAA"})}), reason: popguard.ReasonTokenCnf},
		{name: "at cnf.jwk differs from SHR cnf.jwk", token: tokenFor(map[string]any{"jwk": e.other.PublicJWK(nil)}), reason: popguard.ReasonTokenKeyBinding},
		{name: "token checked before the signature", token: tokenFor(entraCnf(e.net), func(o *jwsTokenOptions) { o.IssuedAt = now.Add(-2 * time.Hour) }),
			key: e.other, tamper: setH("kid", ""), reason: popguard.ReasonTokenExpired},

		// ts.
		{name: "ts stale", opts: func(o *shrOptions) { o.TS = now.Add(-6 * time.Minute) }, reason: popguard.ReasonSHRTs},
		{name: "ts future", opts: func(o *shrOptions) { o.TS = now.Add(2 * time.Minute) }, reason: popguard.ReasonSHRTs},
		{name: "ts past custom max age", opts: func(o *shrOptions) { o.TS = now.Add(-90 * time.Second) }, vopts: []validate.Option{validate.MaxAge(time.Minute)}, reason: popguard.ReasonSHRTs},
		{name: "ts missing", tamper: setP("ts", ""), reason: popguard.ReasonSHRTs},
		{name: "ts string", tamper: setP("ts", `"`+shrItoa(now.Unix())+`"`), reason: popguard.ReasonSHRTs},
		{name: "ts float", tamper: setP("ts", shrItoa(now.Unix())+".5"), reason: popguard.ReasonSHRTs},
		{name: "ts integral float", tamper: setP("ts", shrItoa(now.Unix())+".0"), reason: popguard.ReasonSHRTs},
		{name: "ts exponent", tamper: setP("ts", "1.7e9"), reason: popguard.ReasonSHRTs},
		{name: "ts negative", tamper: setP("ts", "-1"), reason: popguard.ReasonSHRTs},
		{name: "ts huge", tamper: setP("ts", "100000000000000000000"), reason: popguard.ReasonSHRTs},

		// m.
		{name: "m lower case", opts: func(o *shrOptions) { o.Method = "get" }, reason: popguard.ReasonSHRM},
		{name: "m other method", opts: func(o *shrOptions) { o.Method = "POST" }, reason: popguard.ReasonSHRM},
		{name: "m missing", opts: func(o *shrOptions) { o.Method = "" }, reason: popguard.ReasonSHRM},
		{name: "m padded", opts: func(o *shrOptions) { o.Method = " GET" }, reason: popguard.ReasonSHRM},

		// u.
		{name: "u other host", opts: func(o *shrOptions) { o.Host = "evil.contoso.com" }, reason: popguard.ReasonSHRU},
		{name: "u suffix host", opts: func(o *shrOptions) { o.Host = "contoso.com" }, reason: popguard.ReasonSHRU},
		{name: "u missing port on non-default port", req: func(r *validate.SHRRequest) { r.Host = shrHost + ":8443" }, reason: popguard.ReasonSHRU},
		{name: "u wrong port", opts: func(o *shrOptions) { o.Host = shrHost + ":8444" }, req: func(r *validate.SHRRequest) { r.Host = shrHost + ":8443" }, reason: popguard.ReasonSHRU},
		{name: "u port on default request", opts: func(o *shrOptions) { o.Host = shrHost + ":8443" }, reason: popguard.ReasonSHRU},
		{name: "u https port on http", opts: func(o *shrOptions) { o.Host = shrHost + ":443" }, req: func(r *validate.SHRRequest) { r.Scheme = "http" }, reason: popguard.ReasonSHRU},
		{name: "u leading zero port", opts: func(o *shrOptions) { o.Host = shrHost + ":0443" }, reason: popguard.ReasonSHRU},
		{name: "u empty port", opts: func(o *shrOptions) { o.Host = shrHost + ":" }, reason: popguard.ReasonSHRU},
		{name: "u with scheme", opts: func(o *shrOptions) { o.Host = "https://" + shrHost }, reason: popguard.ReasonSHRU},
		{name: "u with userinfo", opts: func(o *shrOptions) { o.Host = "user@" + shrHost }, reason: popguard.ReasonSHRU},
		{name: "u with trailing dot", opts: func(o *shrOptions) { o.Host = shrHost + "." }, reason: popguard.ReasonSHRU},
		{name: "u missing", opts: func(o *shrOptions) { o.Host = "" }, reason: popguard.ReasonSHRU},
		{name: "request scheme not http(s)", req: func(r *validate.SHRRequest) { r.Scheme = "ftp" }, code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestBadTarget},
		{name: "request host empty", req: func(r *validate.SHRRequest) { r.Host = "" }, code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestBadTarget},
		// The request host follows internal/uri's grammar, the middleware's
		// and CanonicalTarget's: these were accepted when u repeated them.
		badHost("trailing dot", shrHost+"."),
		badHost("empty label", "api..contoso.com"),
		badHost("underscore", "api_x.contoso.com"),
		badHost("percent-encoded", "api%2Econtoso.com"),
		badHost("short IPv4", "127.1"),
		badHost("not an IPv6 address", "[evil]"),
		badHost("IPv4 in brackets", "[127.0.0.1]"),
		badHost("IPv6 zone", "[fe80::1%25eth0]"),

		// p.
		{name: "p case", opts: func(o *shrOptions) { o.Path = "/V1/items/42" }, reason: popguard.ReasonSHRP},
		{name: "p case with compat", opts: func(o *shrOptions) { o.Path = "/V1/items/42" }, vopts: []validate.Option{validate.MSALBrowserCompat()}, reason: popguard.ReasonSHRP},
		{name: "p trailing slash", opts: func(o *shrOptions) { o.Path = shrPath + "/" }, reason: popguard.ReasonSHRP},
		{name: "p without leading slash", opts: func(o *shrOptions) { o.Path = "v1/items/42" }, reason: popguard.ReasonSHRP},
		{name: "p dot segment", opts: func(o *shrOptions) { o.Path = "/v1/items/../items/42" }, reason: popguard.ReasonSHRP},
		{name: "p %2F for /", opts: func(o *shrOptions) { o.Path = "/v1/items%2F42" }, reason: popguard.ReasonSHRP},
		{name: "p / for %2F", req: func(r *validate.SHRRequest) { r.Path = "/v1/items%2F42" }, reason: popguard.ReasonSHRP},
		{name: "p encoded unreserved", opts: func(o *shrOptions) { o.Path = "/v1/%69tems/42" }, reason: popguard.ReasonSHRP},
		{name: "p with query", opts: func(o *shrOptions) { o.Path = shrPath + "?a=1" }, req: func(r *validate.SHRRequest) { r.RawQuery = "a=1" }, reason: popguard.ReasonSHRP},
		{name: "p missing", opts: func(o *shrOptions) { o.Path = "" }, reason: popguard.ReasonSHRP},

		// q.
		{name: "q lists an absent parameter", opts: qOpt("a", "missing"), req: withQuery, reason: popguard.ReasonSHRQ},
		{name: "q lists a repeated parameter", opts: qOpt("a", "tag"), req: withQuery, reason: popguard.ReasonSHRQ},
		{name: "q lists a parameter twice", opts: func(o *shrOptions) {
			o.RawQuery = query
			o.Q = &shrQClaim{Names: []string{"a", "a"}, Value: jose.HashB64("a=1&a=1")}
		}, req: withQuery, reason: popguard.ReasonSHRQ},
		{name: "q value changed", opts: qOpt("a", "b"), req: func(r *validate.SHRRequest) { r.RawQuery = "a=1&b=3&tag=x&tag=y" }, reason: popguard.ReasonSHRQ},
		{name: "q order changed", opts: func(o *shrOptions) {
			o.RawQuery = query
			o.Q = &shrQClaim{Names: []string{"b", "a"}, Value: shrQHash(query, "a", "b").Value}
		}, req: withQuery, reason: popguard.ReasonSHRQ},
		{name: "q decoded value", opts: func(o *shrOptions) { o.Q = &shrQClaim{Names: []string{"x"}, Value: jose.HashB64("x=~")} },
			req: func(r *validate.SHRRequest) { r.RawQuery = "x=%7E" }, reason: popguard.ReasonSHRQ},
		{name: "q uncovered parameter with RequireQuery", opts: qOpt("a", "b"), req: withQuery, vopts: []validate.Option{validate.SHRRequireQuery()}, reason: popguard.ReasonSHRQ},
		{name: "q uncovered flag with RequireQuery", opts: func(o *shrOptions) { o.Q = shrQHash("a=1", "a") },
			req: func(r *validate.SHRRequest) { r.RawQuery = "a=1&debug" }, vopts: []validate.Option{validate.SHRRequireQuery()}, reason: popguard.ReasonSHRQ},
		{name: "q missing with RequireQuery", req: withQuery, vopts: []validate.Option{validate.SHRRequireQuery()}, reason: popguard.ReasonSHRQ},
		{name: "q empty hash with RequireQuery", opts: func(o *shrOptions) { o.Q = shrQHash("") }, req: withQuery, vopts: []validate.Option{validate.SHRRequireQuery()}, reason: popguard.ReasonSHRQ},
		{name: "q raw form mismatch", opts: func(o *shrOptions) { o.Q = shrQRaw("a=1") }, req: func(r *validate.SHRRequest) { r.RawQuery = "a=2" }, reason: popguard.ReasonSHRQ},
		{name: "q raw form on extra query", opts: func(o *shrOptions) { o.Q = shrQRaw("") }, req: withQuery, reason: popguard.ReasonSHRQ},
		{name: "q wrong type", tamper: setP("q", `"a=1"`), reason: popguard.ReasonSHRQ},
		{name: "q three elements", tamper: setP("q", `[[],"",""]`), reason: popguard.ReasonSHRQ},
		{name: "q empty name", tamper: setP("q", `[[""],"x"]`), reason: popguard.ReasonSHRQ},
		{name: "q null name", tamper: setP("q", `[[null],"x"]`), reason: popguard.ReasonSHRQ},

		// h.
		{name: "h lists authorization", opts: hOpt("authorization"), req: func(r *validate.SHRRequest) { r.Header.Set("Authorization", "PoP x") }, reason: popguard.ReasonSHRH},
		{name: "h lists Authorization", opts: hOpt("content-type", "Authorization"), req: func(r *validate.SHRRequest) { workedHeader(r); r.Header.Set("Authorization", "PoP x") }, reason: popguard.ReasonSHRH},
		{name: "h lists an absent header", opts: hOpt("content-type", "x-client-id"), req: func(r *validate.SHRRequest) { r.Header.Set("Content-Type", "application/json") }, reason: popguard.ReasonSHRH},
		{name: "h lists a repeated header", opts: hOpt("content-type", "x-client-id"), req: func(r *validate.SHRRequest) { workedHeader(r); r.Header.Add("X-Client-Id", "abc123") }, reason: popguard.ReasonSHRH},
		{name: "h lists a header under two spellings", opts: hOpt("x-client-id"), req: func(r *validate.SHRRequest) { workedHeader(r); r.Header["x-client-id"] = []string{"abc123"} }, reason: popguard.ReasonSHRH},
		{name: "h lists a header twice", opts: func(o *shrOptions) {
			o.H = &shrHClaim{Names: []string{"x-client-id", "X-Client-Id"}, Hash: jose.HashB64("x-client-id: abc123\nX-Client-Id: abc123")}
		}, req: workedHeader, reason: popguard.ReasonSHRH},
		{name: "h value changed", opts: hOpt("content-type", "x-client-id"), req: func(r *validate.SHRRequest) { workedHeader(r); r.Header.Set("X-Client-Id", "eve") }, reason: popguard.ReasonSHRH},
		{name: "h draft CRLF hash", opts: func(o *shrOptions) {
			o.H = &shrHClaim{Names: []string{"content-type", "x-client-id"}, Hash: jose.HashB64("content-type: application/json\r\nx-client-id: abc123")}
		}, req: workedHeader, reason: popguard.ReasonSHRH},
		{name: "h does not cover a required header", opts: hOpt("content-type"), req: workedHeader, vopts: []validate.Option{validate.SHRRequireHeaders("X-Client-Id")}, reason: popguard.ReasonSHRH},
		{name: "h missing with a required header", req: workedHeader, vopts: []validate.Option{validate.SHRRequireHeaders("content-type")}, reason: popguard.ReasonSHRH},
		{name: "h wrong type", tamper: setP("h", `{}`), reason: popguard.ReasonSHRH},

		// b.
		{name: "b mismatch", opts: func(o *shrOptions) { o.Method = "POST"; o.Body = []byte(`{"amount":1}`) },
			req: func(r *validate.SHRRequest) {
				r.Method = "POST"
				r.Body = func() ([]byte, error) { return []byte(`{"amount":1000}`), nil }
			}, reason: popguard.ReasonSHRB},
		{name: "b present, body nil", opts: func(o *shrOptions) { o.Body = []byte("x") }, reason: popguard.ReasonSHRB},
		{name: "b required for POST, missing", opts: func(o *shrOptions) { o.Method = "POST" },
			req:   func(r *validate.SHRRequest) { r.Method = "POST"; r.Body = func() ([]byte, error) { return nil, nil } },
			vopts: []validate.Option{validate.SHRRequireBody("POST")}, reason: popguard.ReasonSHRB},
		{name: "b required, missing", vopts: []validate.Option{validate.SHRRequireBody()}, reason: popguard.ReasonSHRB},
		{name: "b wrong type", tamper: setP("b", `1`), reason: popguard.ReasonSHRB},
		{name: "body unreadable", opts: func(o *shrOptions) { o.Body = []byte("x") },
			req: func(r *validate.SHRRequest) {
				r.Body = func() ([]byte, error) { return nil, errors.New("read: connection reset") }
			},
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonSHRB},

		// nonce.
		{name: "nonce missing", opts: func(o *shrOptions) { o.NoNonce = true }, req: func(r *validate.SHRRequest) { r.Nonces = shrNonces{"n-1"} },
			code: popguard.CodeInvalidToken, reason: popguard.ReasonNonceMissing},
		{name: "nonce invalid", opts: func(o *shrOptions) { o.Nonce = "n-0" }, req: func(r *validate.SHRRequest) { r.Nonces = shrNonces{"n-1"} },
			code: popguard.CodeInvalidToken, reason: popguard.ReasonNonceInvalid},
		{name: "nonce checked after the signature", opts: func(o *shrOptions) { o.NoNonce = true }, key: e.other,
			tamper: func(t testing.TB, h, p []byte) ([]byte, []byte) {
				j, _ := json.Marshal(map[string]any{"jwk": e.net.PublicJWK(nil)})
				return shrSet(t, h, "kid", ""), shrSet(t, p, "cnf", string(j))
			}, req: func(r *validate.SHRRequest) { r.Nonces = shrNonces{"n-1"} }, reason: popguard.ReasonSHRSignature},
	}
}

func TestSHRRejected(t *testing.T) {
	e := shrEnvOnce()
	for _, tc := range append(shrRejectCases(e), shrClientClaimsRejectCases(e)...) {
		t.Run(tc.name, func(t *testing.T) {
			var at string
			if tc.token != nil {
				at = tc.token(t, e)
			} else {
				at = e.token(t, entraCnf(e.net))
			}
			var shr string
			if tc.build != nil {
				shr = tc.build(t, e, at)
			} else {
				key := e.net
				if tc.key != nil {
					key = tc.key
				}
				o := shrBaseOpts()
				if tc.opts != nil {
					tc.opts(&o)
				}
				h, p, err := key.SHRParts(at, o)
				if err != nil {
					t.Fatal(err)
				}
				if tc.tamper != nil {
					h, p = tc.tamper(t, h, p)
				}
				if shr, err = key.SignRaw(h, p); err != nil {
					t.Fatal(err)
				}
			}
			req := shrBaseReq()
			if tc.req != nil {
				tc.req(&req)
			}
			v := e.verifier(t, tc.vopts...)
			got, err := v.Verify(context.Background(), shr, req)
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			// A traced copy (popctl inspect) reports this very rejection.
			traceAgrees(t, func(tr trace.Tracer) error {
				_, err := trace.With(v, trace.Options{Tracer: tr}).Verify(context.Background(), shr, req)
				return err
			})
			code := tc.code
			if code == "" {
				code = popguard.CodeInvalidToken
			}
			wantSHRErr(t, err, code, tc.reason)
			if pe := popguard.AsError(err); strings.Contains(pe.Description, "evil") || strings.Contains(pe.Description, "eyJ") {
				t.Fatalf("description echoes request bytes: %q", pe.Description)
			}
		})
	}
}

func TestSHRReplayKey(t *testing.T) {
	e := shrEnvOnce()
	ctx := context.Background()
	v := e.verifier(t)
	at := e.token(t, entraCnf(e.net))
	verify := func(shr string) *validate.SHR {
		t.Helper()
		got, err := v.Verify(ctx, shr, shrBaseReq())
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	ts := time.Now()
	o := shrBaseOpts()
	o.TS, o.Nonce = ts, "0123456789abcdef0123456789abcdef"
	shr := mustSHR(t, e.net, at, o)
	a, b := verify(shr), verify(shr)
	if a.ReplayKey() != b.ReplayKey() {
		t.Fatal("same SHR, different replay keys")
	}
	o2 := o
	o2.Nonce = "fedcba9876543210fedcba9876543210"
	if c := verify(mustSHR(t, e.net, at, o2)); c.ReplayKey() == a.ReplayKey() {
		t.Fatal("different nonce, same replay key")
	}
	// PSS is randomized: signing the same payload again gives another
	// signature, and must give the same replay key.
	h, p, err := e.net.SHRParts(at, o)
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := e.net.SignRaw(h, p)
	s2, _ := e.net.SignRaw(h, p)
	if s1 == s2 {
		t.Fatal("PSS signatures are equal")
	}
	if verify(s1).ReplayKey() != verify(s2).ReplayKey() || verify(s1).ReplayKey() != a.ReplayKey() {
		t.Fatal("re-signed payload, different replay key")
	}
	// Nor does changing the header help.
	s3, _ := e.net.SignRaw(shrSet(t, h, "typ", `"JWT"`), p)
	if verify(s3).ReplayKey() != a.ReplayKey() {
		t.Fatal("re-signed payload with another header, different replay key")
	}
	// Another key, same claims: another identity.
	at2 := e.token(t, entraCnf(e.other))
	if verify(mustSHR(t, e.other, at2, o)).ReplayKey() == a.ReplayKey() {
		t.Fatal("different key, same replay key")
	}
	if a.ReplayKey() == validate.ReplayKey("dpop", a.Thumbprint, a.PayloadHash()) {
		t.Fatal("replay key not scoped to shr")
	}
}

func TestSHRVerifierOptions(t *testing.T) {
	e := shrEnvOnce()
	bad := map[string][]validate.Option{
		"alg none":          {validate.Algs("none")},
		"alg HS256":         {validate.Algs("HS256")},
		"no algs":           {validate.Algs()},
		"max age 0":         {validate.MaxAge(0)},
		"negative skew":     {validate.FutureSkew(-time.Second)},
		"authorization":     {validate.SHRRequireHeaders("Authorization")},
		"bad header name":   {validate.SHRRequireHeaders("x y")},
		"no headers":        {validate.SHRRequireHeaders()},
		"empty method":      {validate.SHRRequireBody("")},
		"nil clock":         {validate.Clock(nil)},
		"small max size":    {validate.MaxSize(10)},
		"small RSA":         {validate.RSAKeySize(1024, 4096)},
		"inverted RSA size": {validate.RSAKeySize(4096, 2048)},
	}
	// Options of other verifiers do not apply to an SHRVerifier.
	for _, o := range []validate.Option{validate.Leeway(time.Second), validate.Audience("a"), validate.CacheSize(1), validate.WaitForKeys(false), validate.Timeout(time.Second), {}} {
		bad["not for an SHRVerifier: "+validate.OptionName(o)] = []validate.Option{o}
	}
	for name, opts := range bad {
		if _, err := validate.NewSHRVerifier(e.tokens, opts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := validate.NewSHRVerifier(nil); err == nil {
		t.Error("nil TokenVerifier accepted")
	}
	v := e.verifier(t, validate.MaxAge(time.Minute), validate.FutureSkew(5*time.Second), validate.Algs("ES256", "PS256"))
	if v.Window() != 65*time.Second || !slices.Equal(v.Algs(), []string{"ES256", "PS256"}) {
		t.Fatalf("window %v, algs %v", v.Window(), v.Algs())
	}
	// Clock drives ts.
	at := e.token(t, entraCnf(e.net))
	o := shrBaseOpts()
	o.TS = time.Now().Add(-time.Hour)
	shr := mustSHR(t, e.net, at, o)
	clock := func() time.Time { return o.TS.Add(10 * time.Second) }
	if _, err := e.verifier(t, validate.Clock(clock)).Verify(context.Background(), shr, shrBaseReq()); err != nil {
		t.Fatalf("with clock: %v", err)
	}
	// RSAKeySize: a 2048-bit key below a 3072 floor.
	_, err := e.verifier(t, validate.RSAKeySize(3072, 8192)).Verify(context.Background(), mustSHR(t, e.net, at, shrBaseOpts()), shrBaseReq())
	wantSHRErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRKey)
}

// shrTokenFunc adapts a function to TokenVerifier.
type shrTokenFunc func(ctx context.Context, token string) (*validate.Token, error)

func (f shrTokenFunc) VerifyToken(ctx context.Context, token string) (*validate.Token, error) {
	return f(ctx, token)
}

func TestSHRTokenVerifierErrors(t *testing.T) {
	e := shrEnvOnce()
	at := e.token(t, entraCnf(e.net))
	shr := mustSHR(t, e.net, at, shrBaseOpts())
	for name, tc := range map[string]struct {
		f      shrTokenFunc
		code   popguard.ErrorCode
		reason popguard.Reason
	}{
		"plain error": {func(context.Context, string) (*validate.Token, error) { return nil, errors.New("boom") }, popguard.CodeInvalidToken, popguard.ReasonInternal},
		"nil token":   {func(context.Context, string) (*validate.Token, error) { return nil, nil }, popguard.CodeInvalidToken, popguard.ReasonInternal},
		"unavailable": {func(context.Context, string) (*validate.Token, error) {
			return nil, popguard.NewError(popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable, "down", nil)
		}, popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable},
	} {
		v, err := validate.NewSHRVerifier(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), shr, shrBaseReq())
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		wantSHRErr(t, err, tc.code, tc.reason)
	}
	// The token verifier sees exactly the at claim.
	var seen string
	v, _ := validate.NewSHRVerifier(shrTokenFunc(func(ctx context.Context, token string) (*validate.Token, error) {
		seen = token
		return e.tokens.VerifyToken(ctx, token)
	}))
	if _, err := v.Verify(context.Background(), shr, shrBaseReq()); err != nil || seen != at {
		t.Fatalf("err %v, token seen %q", err, seen)
	}
}

func TestSHRKidThumbprint(t *testing.T) {
	tp := shrEnvOnce().net.Thumbprint()
	for _, tc := range []struct {
		kid  string
		want string
		ok   bool
	}{
		{tp, tp, true},
		{shrReqCnf(tp), tp, true},
		{shrB64(`{"kid":"` + tp + `","xms_ksl":"sw"}`), tp, true},
		{shrB64(`{"kid":7}`), "\x00", true},
		{"key-1", "", false},
		{shrB64(`{"x":1}`), "", false},
		{shrB64(`[1]`), "", false},
		{"", "", false},
	} {
		got, ok := shrwire.KidThumbprint(tc.kid)
		if got != tc.want || ok != tc.ok {
			t.Errorf("kidThumbprint(%q) = %q, %v", tc.kid, got, ok)
		}
	}
}

func shrB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func shrItoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// FuzzSHRVerify checks that Verify never panics and only returns
// *popguard.Error, whatever the SHR and the request view.
func FuzzSHRVerify(f *testing.F) {
	e := shrEnvOnce()
	at := e.token(f, entraCnf(e.net))
	atB := e.token(f, entraCnf(e.browser))
	query := "api-version=2024-01-01&filter=a%20b&tag=x&tag=y&empty="
	hdr := http.Header{"Content-Type": {"application/json"}, "X-Client-Id": {"abc123"}}
	seeds := []string{
		mustSHR(f, e.net, at, shrBaseOpts()),
		mustSHR(f, e.browser, atB, shrOptions{Method: "GET", Host: shrHost, Path: "/V1/Items/42", RawQuery: query, Format: shrMSALBrowser}),
		mustSHR(f, e.browser, atB, shrOptions{Method: "GET", Host: shrHost, Path: "/V1/Items/42", RawQuery: query, Format: shrMSALBrowser,
			ClientClaims: msalShrClaims}),
		mustSHR(f, e.net, at, shrOptions{Method: "GET", Host: shrHost, Path: shrPath, RawQuery: query, Format: shrIdentityModel,
			Q: shrQHash(query), H: shrHHash(hdr), Body: []byte(`{"name":"x"}`)}),
		"", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", at,
	}
	for _, s := range seeds {
		f.Add(s, shrPath, query)
		f.Add(s, "/v1/items/42/", "")
	}
	v := e.verifier(f, validate.MSALBrowserCompat(), validate.SHRRequireHeaders("content-type"))
	f.Fuzz(func(t *testing.T, shr, path, rawQuery string) {
		req := validate.SHRRequest{Method: "GET", Scheme: "https", Host: shrHost, Path: path, RawQuery: rawQuery, Header: hdr,
			Body:   func() ([]byte, error) { return []byte(`{"name":"x"}`), nil },
			Nonces: nil}
		got, err := v.Verify(context.Background(), shr, req)
		if err != nil {
			var pe *popguard.Error
			if !errors.As(err, &pe) || got != nil {
				t.Fatalf("error %v (%T), result %v", err, err, got)
			}
			if pe.Description == "" || strings.ContainsAny(pe.Description, "\"\\\r\n") {
				t.Fatalf("bad description %q", pe.Description)
			}
			return
		}
		if got == nil || got.Token == nil || got.Thumbprint == "" || got.ReplayKey() == "" {
			t.Fatalf("accepted without a result: %+v", got)
		}
		if len(got.ClientClaims) > 64 {
			t.Fatalf("%d client claims", len(got.ClientClaims))
		}
	})
}

// hugeQuery is about 500 KB of distinct query pieces: what fits under Go's
// default header limit.
func hugeQuery(pieces int) string {
	var b strings.Builder
	for i := range pieces {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString("p")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString("=")
		b.WriteString(base64.RawURLEncoding.EncodeToString([]byte{byte(i), byte(i >> 8)}))
	}
	return b.String()
}

// A forged SHR (junk at, self-signed) that covers query parameters is
// refused on its token before the query is parsed: the query's cost grows
// with attacker input, so it is only read for an authentic SHR.
func TestSHRQueryCheckedAfterTokenAndSignature(t *testing.T) {
	e := shrEnvOnce()
	v := e.verifier(t)
	q := hugeQuery(60_000)
	for _, tc := range []struct {
		name   string
		at     string
		key    *jwsKey
		reason popguard.Reason
	}{
		{"junk token", "junk", e.net, popguard.ReasonTokenMalformed},
		{"valid token, other key's signature", e.token(t, entraCnf(e.net)), e.other, popguard.ReasonTokenKeyBinding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := shrBaseOpts()
			o.RawQuery = "missing=1"
			o.Q = shrQHash("missing=1") // covers a parameter the request lacks
			req := shrBaseReq()
			req.RawQuery = q
			_, err := v.Verify(context.Background(), mustSHR(t, tc.key, tc.at, o), req)
			wantSHRErr(t, err, popguard.CodeInvalidToken, tc.reason)
		})
	}
	t.Run("authentic SHR: the query is then checked", func(t *testing.T) {
		o := shrBaseOpts()
		o.RawQuery = "missing=1"
		o.Q = shrQHash("missing=1")
		req := shrBaseReq()
		req.RawQuery = q
		_, err := v.Verify(context.Background(), mustSHR(t, e.net, e.token(t, entraCnf(e.net)), o), req)
		wantSHRErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRQ)
	})
}

// BenchmarkSHRForgedHugeQuery is the cost of refusing an unauthenticated SHR
// with a junk token and a 500 KB query, beside the same SHR without the
// query: the two should be about equal.
func BenchmarkSHRForgedHugeQuery(b *testing.B) {
	e := shrEnvOnce()
	v := e.verifier(b)
	o := shrBaseOpts()
	o.RawQuery = "missing=1"
	o.Q = shrQHash("missing=1")
	shr := mustSHR(b, e.net, "junk", o)
	for _, bc := range []struct{ name, query string }{{"plain", ""}, {"60000_pieces", hugeQuery(60_000)}} {
		b.Run(bc.name, func(b *testing.B) {
			req := shrBaseReq()
			req.RawQuery = bc.query
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(context.Background(), shr, req); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// TestSHRKeyCache: with the PoP key cache on (the default), off, or of one
// entry that keys keep evicting, every answer is the one an uncached
// verifier gives: a cached key never lets a request bound to, or signed
// by, another key through, and a refused key is refused every time.
func TestSHRKeyCache(t *testing.T) {
	e := shrEnvOnce()
	req := shrBaseReq()
	shrFor := func(t *testing.T, signer *jwsKey, cnf map[string]any) string {
		return mustSHR(t, signer, e.token(t, cnf), shrBaseOpts())
	}
	for _, opts := range [][]validate.Option{nil, {validate.ProofKeyCache(0)}, {validate.ProofKeyCache(1)}} {
		v := e.verifier(t, opts...)
		for range 3 {
			for _, k := range []*jwsKey{e.net, e.browser, e.ec, e.net} {
				got, err := v.Verify(context.Background(), shrFor(t, k, entraCnf(k)), req)
				if err != nil || got.Thumbprint != k.Thumbprint() {
					t.Fatalf("cache %v, %s key: %v, %+v", opts, k.Alg, err, got)
				}
			}
		}
		// e.net's key is now cached: requests that only a mix-up of keys
		// would accept.
		for _, tc := range []struct {
			name   string
			shr    string
			reason popguard.Reason
		}{
			{"token bound to another key", shrFor(t, e.net, entraCnf(e.other)), popguard.ReasonTokenKeyBinding},
			{"token's cnf.jwk is another key", shrFor(t, e.net, map[string]any{"jwk": e.other.PublicJWK(nil)}), popguard.ReasonTokenKeyBinding},
			{"signed by another key", func() string {
				h, p, err := e.other.SHRParts(e.token(t, entraCnf(e.net)), shrBaseOpts())
				if err != nil {
					t.Fatal(err)
				}
				j, _ := json.Marshal(map[string]any{"jwk": e.net.PublicJWK(nil)})
				shr, err := e.other.SignRaw(shrSet(t, h, "kid", ""), shrSet(t, p, "cnf", string(j)))
				if err != nil {
					t.Fatal(err)
				}
				return shr
			}(), popguard.ReasonSHRSignature},
		} {
			_, err := v.Verify(context.Background(), tc.shr, req)
			dpopWantErr(t, err, popguard.CodeInvalidToken, tc.reason)
		}
		for range 3 {
			_, err := v.Verify(context.Background(), shrFor(t, e.weak, entraCnf(e.weak)), req)
			dpopWantErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRKey)
		}
	}
	// Each verifier applies its own key policy: a key another verifier
	// accepted and cached is refused by a stricter one.
	strict := e.verifier(t, validate.RSAKeySize(3072, 8192))
	_, err := strict.Verify(context.Background(), shrFor(t, e.net, entraCnf(e.net)), req)
	dpopWantErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRKey)
	if _, err := validate.NewSHRVerifier(e.tokens, validate.ProofKeyCache(-1)); err == nil {
		t.Error("ProofKeyCache(-1) accepted")
	}
}
