package main

// inspect agrees with the server: for every rejection reason the verifiers
// can give a DPoP proof, an SHR or an access token, an input the verifier
// refuses for that reason is run through the verifier as a server runs it
// and through popctl inspect, given the same request and configuration;
// inspect must fail the same check, with the same reason, and exit 1.
// Reasons inspect cannot reproduce offline are listed, with why; a reason
// in reasons.go that is neither covered nor listed fails the test.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// notCheckableOffline are the reasons of the verifiers' domain (proof_*,
// shr_*, token_*, nonce_*, replay_*, request_bad_target,
// request_dot_segment) that inspect cannot reproduce, and why.
var notCheckableOffline = map[popguard.Reason]string{
	popguard.ReasonNonceMissing:           "whether a nonce is required is the server's configuration (ProofRequest/SHRRequest.Nonces); inspect has no nonce source and shows nonce as not checked offline",
	popguard.ReasonNonceInvalid:           "whether a nonce is fresh is known only to the server's nonce source (state); inspect shows nonce as not checked offline",
	popguard.ReasonReplayDetected:         "a replay is known only to the server's replay store (state); inspect shows replay as not checked offline",
	popguard.ReasonReplayStoreFull:        "the fullness of the server's replay store is its state; not a property of the input",
	popguard.ReasonReplayStoreUnavailable: "the availability of the server's replay store (Redis...) is its state; not a property of the input",
	popguard.ReasonReplayKeyQuota:         "a per-key quota counts the live entries of the server's replay store (state)",
	popguard.ReasonTokenKeySetUnavailable: "a server refuses tokens while it cannot fetch the issuer's keys (remote key set); inspect reads -jwks from a file and shows keyset-fetch as not checked offline",
	popguard.ReasonTokenInactive:          "an opaque token's activity is known only to introspection at its issuer (validate.Introspector); inspect checks JWTs",
	popguard.ReasonProofMissing:           "an absent proof is no input: inspect needs one (exit 2 on empty input); the middleware answers a request without a DPoP header",
	popguard.ReasonProofMultiple:          "several DPoP headers are refused by the middleware before any verifier; inspect takes one proof",
	popguard.ReasonTokenBoundUsedAsBearer: "the middleware refuses a bound token sent with the Bearer scheme, before any verifier; inspect is not given a scheme",
	popguard.ReasonTokenCertMissing:       "the client certificate belongs to the TLS connection (or a trusted proxy's header), which inspect never sees; popctl thumbprint -cert prints the value cnf.x5t#S256 must hold",
	popguard.ReasonTokenCertBinding:       "the client certificate belongs to the TLS connection (or a trusted proxy's header), which inspect never sees; popctl thumbprint -cert prints the value cnf.x5t#S256 must hold",
}

const (
	eqIssuer   = "https://issuer.test"
	eqAudience = "https://api.test"
	eqURL      = "https://api.test/things/1?x=1"
	eqHTU      = "https://api.test/things/1"
)

var eqNow = time.Unix(1700000000, 0)

// eqCase is an input a verifier refuses for reason, and the request.
type eqCase struct {
	name   string
	reason popguard.Reason
	kind   string // proof, shr or token
	input  string
	// The request: method and url (default GET eqURL), the access token
	// sent with a proof ("" for none; a JWT goes through VerifyRequest),
	// and, for an SHR, one header and the body.
	method, url, token string
	header, body       string
	// profile and iss, when set, configure the token verifier (the token
	// profile and the expected issuer) on both sides.
	profile, iss string
}

type eqEnv struct {
	t             *testing.T
	dir, jwks     string
	keys          *validate.StaticKeySet
	iss           *eqIss
	client, other *privateKey
	good          string      // a token bound to client by cnf.jkt
	popToken      string      // a token bound to client by cnf.kid (Entra)
	entraKey      *privateKey // in the JWKS with an Entra-style issuer member
}

// eqEntraIssuer is a single-tenant Entra-style issuer of tenant t1.
const eqEntraIssuer = "https://issuer.test/t1/v2.0"

func newEqEnv(t *testing.T) *eqEnv {
	e := &eqEnv{t: t, dir: t.TempDir(), client: eqKey(t), other: eqKey(t)}
	e.iss = &eqIss{KID: "issuer-1", Key: eqKey(t)}
	e.entraKey = eqKey(t)
	jwks, err := json.Marshal(map[string]any{"keys": []any{
		e.iss.Key.PublicJWK(map[string]any{"kid": e.iss.KID, "alg": "ES256", "use": "sig"}),
		// Published for another issuer, as Entra ID publishes its keys.
		e.entraKey.PublicJWK(map[string]any{"kid": "entra-1", "use": "sig", "issuer": "https://elsewhere.test/{tenantid}/v2.0"}),
	}})
	e.must(err)
	e.jwks = filepath.Join(e.dir, "jwks.json")
	if err := os.WriteFile(e.jwks, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	if e.keys, err = validate.NewStaticKeySet(jwks); err != nil {
		t.Fatal(err)
	}
	e.good = e.token(t, func(c map[string]any) { c["cnf"] = map[string]any{"jkt": e.client.Thumbprint()} })
	e.popToken = e.token(t, func(c map[string]any) { c["cnf"] = map[string]any{"kid": e.client.Thumbprint()} })
	return e
}

// token mints an access token valid at eqNow, after edit changes its claims.
func (e *eqEnv) token(t *testing.T, edit func(claims map[string]any), header ...map[string]any) string {
	t.Helper()
	claims := map[string]any{
		"iss": eqIssuer, "sub": "alice", "aud": eqAudience, "client_id": "cli", "jti": eqRandomID(),
		"iat": eqNow.Add(-10 * time.Second).Unix(), "exp": eqNow.Add(5 * time.Minute).Unix(),
	}
	if edit != nil {
		edit(claims)
	}
	h := map[string]any{"typ": "at+jwt", "kid": e.iss.KID}
	for _, hh := range header {
		for n, v := range hh {
			h[n] = v
		}
	}
	return e.sign(e.iss.Key, h, claims)
}

// proof signs a proof for GET eqHTU at eqNow carrying ath of token, after
// edit changes its header and claims.
func (e *eqEnv) proof(t *testing.T, token string, edit func(header, claims map[string]any)) string {
	t.Helper()
	h := map[string]any{"typ": "dpop+jwt", "jwk": e.client.PublicJWK(nil)}
	c := map[string]any{"jti": eqRandomID(), "htm": "GET", "htu": eqHTU, "iat": eqNow.Unix(), "ath": eqATH(token)}
	if edit != nil {
		edit(h, c)
	}
	return e.sign(e.client, h, c)
}

// shr signs an MSAL.NET SHR for GET eqURL at eqNow carrying at, after o
// and edit change it.
func (e *eqEnv) shr(t *testing.T, at string, o func(*eqSHROptions), edit func(header, payload map[string]any)) string {
	t.Helper()
	opts := eqSHROptions{target: "https://api.test/things/1?x=1", SHROptions: poptest.SHROptions{Time: eqNow, Format: poptest.MSALNet}}
	if o != nil {
		o(&opts)
	}
	s := e.client.client.SHR("GET", opts.target, at, opts.SHROptions)
	if edit != nil {
		h, p := eqParts(t, s)
		var hm, pm map[string]any
		if json.Unmarshal(h, &hm) != nil || json.Unmarshal(p, &pm) != nil {
			t.Fatal("SHR parts are not JSON objects")
		}
		edit(hm, pm)
		h, _ = json.Marshal(hm)
		p, _ = json.Marshal(pm)
		s = e.client.client.Sign(h, p)
	}
	return s
}

// eqSHROptions are an SHR's options and the URL it is signed for (its
// query only matters to q).
type eqSHROptions struct {
	target string
	poptest.SHROptions
}

// eqIss is the issuer's key and kid.
type eqIss struct {
	KID string
	Key *privateKey
}

func eqKey(t *testing.T) *privateKey {
	k, err := generateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// eqParts returns the header and payload JSON of a compact JWS.
func eqParts(t *testing.T, jws string) (header, payload []byte) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %s", jws)
	}
	h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	p, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("not a compact JWS: %s", jws)
	}
	return h, p
}

func eqRandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func eqATH(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sign signs a JWS with k; the cases are built before their subtests run.
func (e *eqEnv) sign(k *privateKey, header, claims map[string]any) string {
	s, err := k.JWS(header, claims)
	e.must(err)
	return s
}

func (e *eqEnv) must(err error) {
	if err != nil {
		e.t.Fatal(err)
	}
}

func eqCases(t *testing.T, e *eqEnv) []eqCase {
	good := e.good
	entra := func(name string, reason popguard.Reason, key *privateKey, kid string, edit func(map[string]any)) eqCase {
		return eqCase{name: name, reason: reason, kind: "token", input: e.entraToken(key, kid, edit), profile: "entra", iss: eqEntraIssuer}
	}
	proof := func(name string, reason popguard.Reason, edit func(h, c map[string]any)) eqCase {
		return eqCase{name: name, reason: reason, kind: "proof", input: e.proof(t, good, edit), token: good}
	}
	withReq := func(c eqCase, method, url, token string) eqCase {
		if method != "" {
			c.method = method
		}
		if url != "" {
			c.url = url
		}
		if token != "" {
			c.token = token
		}
		return c
	}
	at := e.popToken
	shr := func(name string, reason popguard.Reason, at string, o func(*eqSHROptions), edit func(h, p map[string]any)) eqCase {
		return eqCase{name: name, reason: reason, kind: "shr", input: e.shr(t, at, o, edit), header: "X-Test: 1", body: "body"}
	}
	tok := func(name string, reason popguard.Reason, edit func(c map[string]any), header ...map[string]any) eqCase {
		return eqCase{name: name, reason: reason, kind: "token", input: e.token(t, edit, header...)}
	}
	other := poptest.NewStaticIssuerWithKey(eqIssuer, eqKey(t).client.Key())
	forged := other.Token(poptest.TokenOptions{Subject: "alice", ClientID: "cli", Audience: eqAudience, IssuedAt: eqNow,
		Header: map[string]any{"kid": e.iss.KID}})
	longJTI := strings.Repeat("j", 256+1 /* the default MaxJTILength */)
	return []eqCase{
		// DPoP proofs, as VerifyRequest runs them with a JWT access token.
		{name: "proof not a JWS", reason: popguard.ReasonProofMalformed, kind: "proof", input: "not.a.jws", token: good},
		proof("proof too large", popguard.ReasonProofTooLarge, func(h, c map[string]any) { c["pad"] = strings.Repeat("p", 8192 /* the default MaxSize of a proof */) }),
		proof("proof crit", popguard.ReasonProofCrit, func(h, c map[string]any) { h["crit"] = []string{"x-ext"}; h["x-ext"] = 1 }),
		proof("proof typ JWT", popguard.ReasonProofTyp, func(h, c map[string]any) { h["typ"] = "JWT" }),
		proof("proof alg HS256", popguard.ReasonProofAlg, func(h, c map[string]any) { h["alg"] = "HS256" }),
		proof("proof alg PS256 with an EC key", popguard.ReasonProofAlg, func(h, c map[string]any) { h["alg"] = "PS256" }),
		proof("proof without jwk", popguard.ReasonProofJWK, func(h, c map[string]any) { delete(h, "jwk") }),
		proof("proof with jku", popguard.ReasonProofJWK, func(h, c map[string]any) { h["jku"] = "https://evil.test/jwks" }),
		proof("proof private jwk", popguard.ReasonProofJWK, func(h, c map[string]any) {
			priv, _ := e.client.PrivateJWK("k")
			h["jwk"] = priv
		}),
		proof("proof without htm", popguard.ReasonProofClaims, func(h, c map[string]any) { delete(c, "htm") }),
		proof("proof iat a string", popguard.ReasonProofClaims, func(h, c map[string]any) { c["iat"] = "now" }),
		proof("proof nonce a number", popguard.ReasonProofClaims, func(h, c map[string]any) { c["nonce"] = 7 }),
		proof("proof without jti", popguard.ReasonProofJTI, func(h, c map[string]any) { delete(c, "jti") }),
		proof("proof jti too long", popguard.ReasonProofJTI, func(h, c map[string]any) { c["jti"] = longJTI }),
		withReq(proof("proof htm vs POST", popguard.ReasonProofHTM, nil), "POST", "", ""),
		proof("proof htu with a query", popguard.ReasonProofHTU, func(h, c map[string]any) { c["htu"] = eqURL }),
		withReq(proof("proof htu vs another URL", popguard.ReasonProofHTU, nil), "", "https://api.test/things/2", ""),
		proof("proof too old", popguard.ReasonProofIAT, func(h, c map[string]any) { c["iat"] = eqNow.Add(-61 * time.Second).Unix() }),
		proof("proof from the future", popguard.ReasonProofIAT, func(h, c map[string]any) { c["iat"] = eqNow.Add(11 * time.Second).Unix() }),
		proof("proof without iat", popguard.ReasonProofIAT, func(h, c map[string]any) { delete(c, "iat") }),
		proof("proof without ath", popguard.ReasonProofATH, func(h, c map[string]any) { delete(c, "ath") }),
		proof("proof ath of another token", popguard.ReasonProofATH, func(h, c map[string]any) { c["ath"] = eqATH("another") }),
		{name: "proof ath, opaque token", reason: popguard.ReasonProofATH, kind: "proof", input: e.proof(t, "opaque-1", nil), token: "opaque-2"},
		{name: "proof signature", reason: popguard.ReasonProofSignature, kind: "proof", input: tamperSignature(e.proof(t, good, nil)), token: good},
		withReq(proof("request URI with userinfo", popguard.ReasonRequestBadTarget, nil), "", "https://user@api.test/things/1", ""),
		withReq(proof("request URI with a dot-segment", popguard.ReasonRequestDotSegment, nil), "", "https://api.test/things/%2e%2e/1", ""),
		func() eqCase {
			tk := e.token(t, func(c map[string]any) { c["cnf"] = map[string]any{"jkt": e.other.Thumbprint()} })
			return eqCase{name: "proof key is not the token's", reason: popguard.ReasonTokenKeyBinding, kind: "proof", input: e.proof(t, tk, nil), token: tk}
		}(),
		{name: "proof with a PoP-bound token", reason: popguard.ReasonTokenKeyBinding, kind: "proof", input: e.proof(t, at, nil), token: at},
		func() eqCase {
			tk := e.token(t, nil)
			return eqCase{name: "proof with an unbound token", reason: popguard.ReasonTokenNotBound, kind: "proof", input: e.proof(t, tk, nil), token: tk}
		}(),
		func() eqCase {
			tk := e.token(t, func(c map[string]any) {
				c["cnf"] = map[string]any{"jkt": e.client.Thumbprint()}
				c["exp"] = eqNow.Add(-time.Minute).Unix()
			})
			return eqCase{name: "proof with an expired token", reason: popguard.ReasonTokenExpired, kind: "proof", input: e.proof(t, tk, nil), token: tk}
		}(),

		// Signed HTTP requests, their at verified by the JWTVerifier.
		{name: "SHR not a JWS", reason: popguard.ReasonSHRMalformed, kind: "shr", input: "not.a.jws", header: "X-Test: 1", body: "body"},
		shr("SHR without at", popguard.ReasonSHRMalformed, at, nil, func(h, p map[string]any) { delete(p, "at") }),
		shr("SHR typ dpop+jwt", popguard.ReasonSHRTyp, at, nil, func(h, p map[string]any) { h["typ"] = "dpop+jwt" }),
		shr("SHR typ JWT shaped like a proof", popguard.ReasonSHRTyp, at, nil, func(h, p map[string]any) { h["typ"] = "JWT"; p["htm"] = "GET" }),
		shr("SHR alg HS256", popguard.ReasonSHRAlg, at, nil, func(h, p map[string]any) { h["alg"] = "HS256" }),
		shr("SHR alg RS256 with an EC key", popguard.ReasonSHRAlg, at, nil, func(h, p map[string]any) { h["alg"] = "RS256" }),
		shr("SHR with a jwk header", popguard.ReasonSHRKey, at, nil, func(h, p map[string]any) { h["jwk"] = e.client.PublicJWK(nil) }),
		shr("SHR kid of another key", popguard.ReasonSHRKey, at, nil, func(h, p map[string]any) { h["kid"] = e.other.Thumbprint() }),
		shr("SHR without cnf.jwk for cnf.kid", popguard.ReasonSHRKey, at, nil, func(h, p map[string]any) { delete(p, "cnf") }),
		{name: "SHR signature", reason: popguard.ReasonSHRSignature, kind: "shr", input: tamperSignature(e.shr(t, at, nil, nil)), header: "X-Test: 1", body: "body"},
		shr("SHR too old", popguard.ReasonSHRTs, at, func(o *eqSHROptions) { o.Time = eqNow.Add(-6 * time.Minute) }, nil),
		shr("SHR from the future", popguard.ReasonSHRTs, at, func(o *eqSHROptions) { o.Time = eqNow.Add(time.Minute) }, nil),
		shr("SHR ts a string", popguard.ReasonSHRTs, at, nil, func(h, p map[string]any) { p["ts"] = "now" }),
		withReq(shr("SHR m vs POST", popguard.ReasonSHRM, at, nil, nil), "POST", "", ""),
		withReq(shr("SHR u vs another host", popguard.ReasonSHRU, at, nil, nil), "", "https://other.test/things/1?x=1", ""),
		withReq(shr("SHR u without the port", popguard.ReasonSHRU, at, nil, nil), "", "https://api.test:8443/things/1?x=1", ""),
		withReq(shr("SHR p vs another path", popguard.ReasonSHRP, at, nil, nil), "", "https://api.test/things/2?x=1", ""),
		shr("SHR q of another query", popguard.ReasonSHRQ, at, func(o *eqSHROptions) { o.target, o.Query = "https://api.test/things/1?x=2", []string{"x"} }, nil),
		shr("SHR h of another header", popguard.ReasonSHRH, at, func(o *eqSHROptions) {
			o.Headers = http.Header{"X-Test": {"2"}}
		}, nil),
		shr("SHR b of another body", popguard.ReasonSHRB, at, func(o *eqSHROptions) { o.Body = []byte("other") }, nil),
		shr("SHR client_claims not a JSON object", popguard.ReasonSHRClientClaims, at, func(o *eqSHROptions) { o.Claims = map[string]any{"client_claims": `{"role":"user","role":"admin"}`} }, nil),
		shr("SHR client_claims not a string", popguard.ReasonSHRClientClaims, at, nil, func(h, p map[string]any) { p["client_claims"] = map[string]any{"a": 1} }),
		withReq(shr("SHR request path with a dot-segment", popguard.ReasonRequestDotSegment, at, func(o *eqSHROptions) { o.target = "https://api.test/things/%2e%2e/1?x=1" }, nil), "", "https://api.test/things/%2e%2e/1?x=1", ""),
		withReq(shr("SHR request port 0", popguard.ReasonRequestBadTarget, at, nil, nil), "", "https://api.test:0/things/1?x=1", ""),
		shr("SHR with an unbound at", popguard.ReasonTokenNotBound, e.token(t, nil), nil, nil),
		shr("SHR with a DPoP-bound at", popguard.ReasonTokenKeyBinding, good, nil, nil),
		shr("SHR at bound to another key", popguard.ReasonTokenKeyBinding, e.token(t, func(c map[string]any) {
			c["cnf"] = map[string]any{"kid": e.other.Thumbprint()}
		}), nil, nil),
		shr("SHR at cnf.jwk not a key", popguard.ReasonTokenCnf, e.token(t, func(c map[string]any) {
			c["cnf"] = map[string]any{"jwk": map[string]any{"kty": "EC"}}
		}), nil, nil),
		shr("SHR at expired", popguard.ReasonTokenExpired, e.token(t, func(c map[string]any) {
			c["cnf"] = map[string]any{"kid": e.client.Thumbprint()}
			c["exp"] = eqNow.Add(-time.Minute).Unix()
		}), nil, nil),

		// Access tokens.
		{name: "token not a JWS", reason: popguard.ReasonTokenMalformed, kind: "token", input: "not.a.jws"},
		tok("token typ JWT", popguard.ReasonTokenType, nil, map[string]any{"typ": "JWT"}),
		tok("token alg HS256", popguard.ReasonTokenAlg, nil, map[string]any{"alg": "HS256"}),
		tok("token alg none", popguard.ReasonTokenAlg, nil, map[string]any{"alg": "none"}),
		tok("token with a jwk header", popguard.ReasonTokenUnknownKey, nil, map[string]any{"jwk": e.client.PublicJWK(nil)}),
		tok("token kid unknown", popguard.ReasonTokenUnknownKey, nil, map[string]any{"kid": "nope"}),
		{name: "token signed by another key", reason: popguard.ReasonTokenSignature, kind: "token", input: forged},
		tok("token from another issuer", popguard.ReasonTokenIssuer, func(c map[string]any) { c["iss"] = "https://evil.test" }),
		tok("token for another audience", popguard.ReasonTokenAudience, func(c map[string]any) { c["aud"] = "https://other.test" }),
		tok("token expired", popguard.ReasonTokenExpired, func(c map[string]any) { c["exp"] = eqNow.Add(-time.Minute).Unix() }),
		tok("token not yet valid", popguard.ReasonTokenNotYetValid, func(c map[string]any) { c["nbf"] = eqNow.Add(time.Hour).Unix() }),
		tok("token issued in the future", popguard.ReasonTokenIssuedAt, func(c map[string]any) { c["iat"] = eqNow.Add(time.Hour).Unix() }),
		tok("token without jti", popguard.ReasonTokenClaims, func(c map[string]any) { delete(c, "jti") }),
		tok("token sub a number", popguard.ReasonTokenClaims, func(c map[string]any) { c["sub"] = 7 }),
		tok("token cnf.jkt not a thumbprint", popguard.ReasonTokenCnf, func(c map[string]any) { c["cnf"] = map[string]any{"jkt": "short"} }),
		tok("token cnf names two keys", popguard.ReasonTokenCnf, func(c map[string]any) {
			c["cnf"] = map[string]any{"jkt": e.client.Thumbprint(), "jku": "https://evil.test/jwks"}
		}),
		entra("Entra token whose tid disagrees with iss", popguard.ReasonTokenTenant, e.iss.Key, e.iss.KID, func(c map[string]any) { c["tid"] = "t2" }),
		entra("Entra token signed by a key of another issuer", popguard.ReasonTokenKeyIssuer, e.entraKey, "entra-1", nil),
	}
}

// entraToken signs an Entra ID v2.0-shaped token of tenant t1 with key kid,
// valid at eqNow, after edit changes its claims.
func (e *eqEnv) entraToken(key *privateKey, kid string, edit func(map[string]any)) string {
	c := map[string]any{
		"iss": eqEntraIssuer, "sub": "alice", "aud": eqAudience, "azp": "cli", "tid": "t1", "ver": "2.0", "scp": "read",
		"iat": eqNow.Add(-10 * time.Second).Unix(), "nbf": eqNow.Add(-10 * time.Second).Unix(), "exp": eqNow.Add(5 * time.Minute).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return e.sign(key, map[string]any{"typ": "JWT", "kid": kid}, c)
}

// serverRun runs c through the verifiers as a server does, with tr (nil:
// untraced) on each; the token verifier's checks are named token.* (proof)
// or at.* (SHR), as inspect names them.
func (e *eqEnv) serverRun(t *testing.T, c eqCase, tr trace.Tracer) error {
	t.Helper()
	ctx := context.Background()
	clock := func() time.Time { return eqNow }
	jwt := func(prefix string) *validate.JWTVerifier {
		iss, opts := eqIssuer, []validate.Option{validate.Audience(eqAudience), validate.Clock(clock)}
		if c.iss != "" {
			iss = c.iss
		}
		if c.profile != "" {
			p, _ := validate.ProfileByName(c.profile)
			opts = append(opts, validate.UseProfile(p), validate.AnyTenant())
		}
		v, err := validate.NewJWTVerifier(iss, e.keys, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if tr != nil {
			v = trace.With(v, trace.Options{Tracer: func(ev trace.Event) { ev.Check = prefix + ev.Check; tr(ev) }})
		}
		return v
	}
	switch c.kind {
	case "proof":
		pv, err := validate.NewProofVerifier(validate.Clock(clock))
		if err != nil {
			t.Fatal(err)
		}
		if tr != nil {
			pv = trace.With(pv, trace.Options{Tracer: tr})
		}
		req := validate.ProofRequest{Method: c.method, Target: c.url, AccessToken: c.token}
		if strings.Count(c.token, ".") == 2 {
			_, _, err = pv.VerifyRequest(ctx, jwt("token."), c.input, req)
		} else {
			_, err = pv.Verify(c.input, req)
		}
		return err
	case "shr":
		sv, err := validate.NewSHRVerifier(jwt("at."), validate.Clock(clock))
		if err != nil {
			t.Fatal(err)
		}
		if tr != nil {
			sv = trace.With(sv, trace.Options{Tracer: tr})
		}
		u, err := parseURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		name, value, _ := strings.Cut(c.header, ":")
		req := validate.SHRRequest{
			Method: c.method, Scheme: u.Scheme, Host: u.Host, Path: rawPath(c.url), RawQuery: u.RawQuery,
			Header: http.Header{http.CanonicalHeaderKey(name): {strings.TrimSpace(value)}},
			Body:   func() ([]byte, error) { return []byte(c.body), nil },
		}
		_, err = sv.Verify(ctx, c.input, req)
		return err
	}
	_, err := jwt("").VerifyToken(ctx, c.input)
	return err
}

// inspectRun runs popctl inspect on c with the same request and settings.
func (e *eqEnv) inspectRun(t *testing.T, c eqCase) (*report, int) {
	t.Helper()
	iss := eqIssuer
	if c.iss != "" {
		iss = c.iss
	}
	args := []string{"-as", c.kind, "-at", strconv.FormatInt(eqNow.Unix(), 10), "-jwks", e.jwks, "-iss", iss, "-aud", eqAudience}
	if c.profile != "" {
		args = append(args, "-profile", c.profile)
	}
	switch c.kind {
	case "proof":
		args = append(args, "-method", c.method, "-url", c.url)
		if c.token != "" {
			args = append(args, "-token", c.token)
		}
	case "shr":
		body := filepath.Join(t.TempDir(), "body")
		if err := os.WriteFile(body, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-method", c.method, "-url", c.url, "-header", c.header, "-body", body)
	}
	return inspectJSON(t, c.input, append(args, "-")...)
}

func TestInspectAgreesWithServer(t *testing.T) {
	e := newEqEnv(t)
	covered := map[popguard.Reason]bool{}
	for _, c := range eqCases(t, e) {
		if c.method == "" {
			c.method = "GET"
		}
		if c.url == "" {
			c.url = eqURL
		}
		t.Run(c.name, func(t *testing.T) {
			// The server: untraced, as it runs, and traced for the check
			// that refused the input.
			err := e.serverRun(t, c, nil)
			if popguard.ReasonOf(err) != c.reason {
				t.Fatalf("the verifier says %v, want reason %s: fix the case", err, c.reason)
			}
			var failed *trace.Event
			traced := e.serverRun(t, c, func(ev trace.Event) {
				if ev.Err != nil && failed == nil {
					failed = &ev
				}
			})
			if popguard.ReasonOf(traced) != c.reason || failed == nil || popguard.ReasonOf(failed.Err) != c.reason {
				t.Fatalf("traced verifier: %v, failed check %+v", traced, failed)
			}
			// inspect: the same check fails first, with the same reason.
			r, code := e.inspectRun(t, c)
			var first *check
			for i := range r.Checks {
				if !r.Checks[i].OK {
					first = &r.Checks[i]
					break
				}
			}
			if code != exitFail || r.OK || r.Reason != string(c.reason) || first == nil ||
				first.Name != failed.Check || first.Reason != string(c.reason) {
				t.Fatalf("inspect: exit %d, reason %q, first failed check %+v; the server: %s [%s]\n%+v",
					code, r.Reason, first, failed.Check, c.reason, r.Checks)
			}
			if last := r.Checks[len(r.Checks)-1]; last.Name != "verifier" || last.OK {
				t.Errorf("inspect's verdict line: %+v", last)
			}
		})
		covered[c.reason] = true
	}
	// Every reason of the verifiers' domain is covered or listed.
	for _, reason := range reasonsOf(t, "../../reasons.go") {
		inDomain := false
		for _, p := range []string{"proof_", "shr_", "token_", "nonce_", "replay_"} {
			inDomain = inDomain || strings.HasPrefix(string(reason), p)
		}
		inDomain = inDomain || reason == popguard.ReasonRequestBadTarget || reason == popguard.ReasonRequestDotSegment
		why, listed := notCheckableOffline[reason]
		switch {
		case covered[reason] && listed:
			t.Errorf("%s is covered and listed as not checkable (%s)", reason, why)
		case inDomain && !covered[reason] && !listed:
			t.Errorf("%s: no case shows inspect agreeing with the server, and it is not listed as not checkable offline", reason)
		}
	}
}

// reasonsOf returns the values of the popguard.Reason constants in path.
func reasonsOf(t *testing.T, path string) []popguard.Reason {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []popguard.Reason
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || vs.Type == nil || len(vs.Values) != 1 {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok {
			s, _ := strconv.Unquote(lit.Value)
			out = append(out, popguard.Reason(s))
		}
		return true
	})
	if len(out) < 40 {
		t.Fatalf("read only %d reasons from %s", len(out), path)
	}
	return out
}
