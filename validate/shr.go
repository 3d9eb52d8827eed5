package validate

// This file checks Microsoft's PoP "signed HTTP request" (SHR,
// draft-ietf-oauth-signed-http-request-03 as MSAL and Microsoft.IdentityModel
// use it): Authorization: PoP <compact JWS> whose payload carries the access
// token (at), a timestamp (ts), the request it signs (m, u, p, q, h, b), a
// nonce and the proof-of-possession key (cnf.jwk).

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/popguard/popguard/internal/ascii"
	"github.com/popguard/popguard/internal/shrwire"
	"github.com/popguard/popguard/internal/uri"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/trace"
)

// DefaultSHRAlgs returns a copy of the default SHR algorithm allow-list:
// PS256 (MSAL.NET 4.63 and later), RS256 (msal-browser, older MSAL.NET) and
// ES256.
func DefaultSHRAlgs() []string { return []string{"RS256", "PS256", "ES256"} }

// Defaults of NewSHRVerifier.
const (
	// defaultSHRMaxAge is how old ts may be: Microsoft.IdentityModel's
	// SignedHttpRequestLifetime.
	defaultSHRMaxAge = 5 * time.Minute
	// defaultSHRFutureSkew is how far ts may be in the future. IdentityModel
	// has no such bound; an SHR dated ahead would live longer than MaxAge.
	defaultSHRFutureSkew = 30 * time.Second
	// defaultMaxSHRSize caps an SHR, access token included.
	defaultMaxSHRSize = 16384
	// maxClientClaims caps the decoded client_claims string.
	maxClientClaims = 4096
)

// SHRVerifier checks signed HTTP requests. It is safe for concurrent use.
//
// What it accepts, and why:
//
//   - typ: "pop" (ASCII case-insensitive, also "application/pop"; RFC 7515
//     §4.1.9 media types are case-insensitive), as MSAL.NET, current
//     msal-browser and IdentityModel write it. "JWT" (any case, also
//     "application/jwt") and a missing typ, as some msal-common builds send
//     (older msal-browser misspells the member as "type"), only when the
//     payload has the SHR shape: an at claim and neither htm nor htu, so a
//     DPoP proof is never read as an SHR. Every other typ (dpop+jwt, at+jwt,
//     ...) is refused with shr_typ.
//   - alg: the allow-list (DefaultSHRAlgs); never none or HMAC; it must fit
//     the PoP key.
//   - key: never from the JWS header: jwk, jku, x5u, x5c, x5t and x5t#S256
//     headers are refused. The PoP key comes from the validated access
//     token's cnf: cnf.jwk is the key (the SHR's own cnf.jwk, if any, must be
//     the same key); cnf.kid (Microsoft Entra ID) names the RFC 7638
//     thumbprint of the SHR's cnf.jwk, which must match it; cnf.jku is never
//     dereferenced and is refused; cnf.jkt (DPoP), cnf.x5t#S256 (mTLS) and
//     cnf.jwe (symmetric key) are other mechanisms and refused. A header kid
//     that is a thumbprint (MSAL.NET: 43 base64url characters) or the
//     base64url of {"kid": thumbprint} (msal-browser) must name the PoP key;
//     a kid of another form is ignored, as IdentityModel ignores kid.
//   - ts: required, a JSON integer (no fraction or exponent), within
//     [now-MaxAge, now+FutureSkew], unless SHRRequest.Freshness is
//     FreshnessNonce (then the nonce alone says how old the SHR is).
//   - m: required, exactly the request method (no case folding).
//   - u: required, host[:port], host compared ASCII case-insensitively; no
//     port means the scheme's default port; a request on another port needs
//     that port in u.
//   - p: required, exactly the request's escaped path after upper-casing
//     percent-encoding hex digits; case and slashes are significant (see
//     MSALBrowserCompat for the one exception).
//   - q, h, b: checked whenever present, and required by SHRRequireQuery,
//     SHRRequireHeaders, SHRRequireBody. See Verify.
//   - nonce: required and checked only when SHRRequest.Nonces is set.
//   - client_claims (msal-browser's shrClaims), when present: a JSON string
//     of at most 4 KiB (after unescaping) holding exactly one JSON object,
//     parsed as strictly as the SHR itself (no duplicate member names at any
//     depth, nesting at most 16, at most 64 members per object); anything
//     else is refused with shr_client_claims. It is parsed after the
//     signature and returned as SHR.ClientClaims.
//
// Order: syntax, header and claim types, then the request binding whose
// cost does not grow with the request (ts, m, u, p), then the access token
// (before any signature work, draft-03 §7.4), the PoP key, the signature,
// then what costs in proportion to the request (q, h, and b, so the query,
// the headers and the body are only read for an authentic SHR), and the
// nonce last, so a
// stateful nonce source is consulted only for an SHR that passed every
// other check and a nonce rejection is one the client can act on. PoP has
// no nonce error code: a nonce rejection is invalid_token with reason
// nonce_missing or nonce_invalid, and the challenge carries a fresh nonce.
type SHRVerifier struct {
	tokens         TokenVerifier
	algs           []string
	algSet         map[string]*jose.Alg
	maxAge         time.Duration
	futureSkew     time.Duration
	maxSize        int
	requireQuery   bool
	requireHeaders []string
	requireBody    bool
	bodyMethods    []string
	browserCompat  bool
	keyPolicy      jose.KeyPolicy
	keyCache       int
	keys           keyCache
	now            func() time.Time
	traced
}

// NewSHRVerifier returns a verifier of signed HTTP requests whose access
// tokens tokens validates.
func NewSHRVerifier(tokens TokenVerifier, opts ...Option) (*SHRVerifier, error) {
	if tokens == nil {
		return nil, errors.New("validate: a TokenVerifier is required")
	}
	v := &SHRVerifier{
		tokens:     tokens,
		maxAge:     defaultSHRMaxAge,
		futureSkew: defaultSHRFutureSkew,
		maxSize:    defaultMaxSHRSize,
		keyCache:   defaultKeyCache,
		now:        time.Now,
	}
	if err := Algs(DefaultSHRAlgs()...).shr(v); err != nil {
		return nil, err
	}
	if err := applySHR(opts, v); err != nil {
		return nil, err
	}
	var err error
	if v.keys, err = newKeyCache(v.keyCache, v.keyPolicy); err != nil {
		return nil, err
	}
	if v.algSet["EdDSA"] != nil || v.algSet["Ed25519"] != nil {
		v.algSet["EdDSA"], v.algSet["Ed25519"] = algMust("EdDSA"), algMust("Ed25519")
	}
	return v, nil
}

// Algs returns the algorithm allow-list.
func (v *SHRVerifier) Algs() []string { return slices.Clone(v.algs) }

// Window returns the acceptance window of an SHR judged by its ts
// (FreshnessIAT): max age plus future skew. Replay stores must remember an
// SHR at least this long. Under FreshnessNonce the window is the nonce's
// lifetime instead (nonce.Source.Lifetime), and under FreshnessBoth the
// shorter of the two.
func (v *SHRVerifier) Window() time.Duration { return v.maxAge + v.futureSkew }

// SHRRequest is the view of the HTTP request an SHR is checked against.
type SHRRequest struct {
	// Method is compared exactly with m.
	Method string
	// Scheme is "https" or "http", as the client saw it; it gives the
	// default port.
	Scheme string
	// Host is host[:port] as the client saw it. It must come from trusted
	// configuration or trusted proxy headers, never from an unchecked Host.
	Host string
	// Path is the escaped path as the client sent it (not decoded).
	Path string
	// RawQuery is the query as sent, without '?', not decoded.
	RawQuery string
	// Header holds the request headers, for h.
	Header http.Header
	// Body returns the exact body octets; it is called only when b must be
	// checked, after the signature. A nil Body is an empty body.
	Body func() ([]byte, error)
	// Nonces, when set, requires the SHR to carry a nonce it accepts.
	Nonces Nonces
	// Freshness says how the SHR's age is judged: by its ts (the default),
	// by its nonce, or both. FreshnessNonce and FreshnessBoth need Nonces.
	Freshness Freshness
}

// SHR is a signed HTTP request that passed every check.
type SHR struct {
	// Token is the validated access token from the at claim.
	Token *Token
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the PoP key.
	Thumbprint string
	// Nonce is the nonce claim ("" when absent).
	Nonce string
	// Timestamp is the ts claim.
	Timestamp time.Time
	// NextNonce is the nonce to hand the client (Authentication-Info
	// nextnonce) when the one it used is accepted but no longer current;
	// empty otherwise.
	NextNonce string
	// ClientClaims is the JSON object msal-browser sends, as a string, in
	// the client_claims claim (its shrClaims request parameter), signed with
	// the rest of the request: statements of the key holder, not of the
	// issuer. nil when the SHR has no client_claims.
	ClientClaims map[string]any

	payloadHash string
}

// ReplayKey returns the identity under which a replay store remembers the
// SHR: a hash of the PoP key thumbprint and of the signed payload bytes. A
// resent SHR has the same payload, and so does the same payload signed
// again (PSS and ECDSA signatures are randomized), so neither dodges it.
func (s *SHR) ReplayKey() string {
	return replayKey("shr", s.Thumbprint, s.payloadHash)
}

// forbiddenSHRHeaders would name a key; the PoP key comes only from the
// access token's cnf.
var forbiddenSHRHeaders = [...]string{"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"}

func shrErr(reason popguard.Reason, desc string, cause error) error {
	return fail(popguard.CodeInvalidToken, reason, desc, cause)
}

// Verify checks shr against req and returns the validated SHR. It does not
// check replay: once every other check of the request has passed, the
// caller inserts ReplayKey into a replay store for Window.
//
// q: [[names...], hash] is checked as Microsoft.IdentityModel does: the raw
// query is split on '&'; pieces with exactly one '=' and a non-empty name
// and value are parameters; each listed name must be a parameter that occurs
// once in the query (a repeated name cannot be covered, draft-03 §7.5); the
// buffer is name=value for each listed name, in list order, joined by '&';
// its base64url SHA-256 must equal hash. With an empty name list, the value
// is msal-browser's raw query string and must equal req.RawQuery exactly
// (lower-cased too with MSALBrowserCompat); the one exception is the hash
// of the empty buffer (47DEQpj8...), which IdentityModel writes when there
// is nothing to cover and which then covers nothing.
//
// h: [[names...], hash]: names are looked up ASCII case-insensitively; a
// listed name must occur once with one non-empty value, must not be listed
// twice and must not be Authorization; the buffer is "name: value" per
// listed name (name as written in the claim) joined by "\n".
//
// b: base64url(SHA-256(body)) exactly.
func (v *SHRVerifier) Verify(ctx context.Context, shr string, req SHRRequest) (*SHR, error) {
	tr := v.tr
	if err := req.Freshness.check(req.Nonces); err != nil {
		return nil, tr.Fail("freshness", "", err)
	}
	if shr == "" {
		return nil, tr.Fail("structure", "empty", shrErr(popguard.ReasonSHRMalformed, "The PoP signed request is missing", nil))
	}
	j, err := jose.ParseCompact(shr, v.maxSize)
	if err != nil {
		err = shrErr(popguard.ReasonSHRMalformed, "The PoP signed request is not a well-formed JWS", err)
	}
	if err := v.structure(len(shr), v.maxSize, err); err != nil {
		return nil, err
	}
	strictTyp, ok := shrTyp(j)
	if !ok {
		err = shrErr(popguard.ReasonSHRTyp, "The PoP signed request typ is not pop", nil)
	}
	if err := v.report("typ", err, func() string { return typValue(j) }); err != nil {
		return nil, err
	}
	alg, ok := v.algSet[j.Alg]
	if !ok {
		err := shrErr(popguard.ReasonSHRAlg, "The PoP signed request alg is not allowed", nil)
		if tr != nil {
			tr.Fail("alg", fmt.Sprintf("%q (allowed: %s)", j.Alg, quoteList(v.algs)), err)
		}
		return nil, err
	}
	tr.Pass("alg", j.Alg)
	for _, h := range forbiddenSHRHeaders {
		if j.HeaderHas(h) {
			err := shrErr(popguard.ReasonSHRKey, "The PoP signed request key must come from the access token", nil)
			if tr != nil {
				tr.Fail("header", "a "+h+" header", err)
			}
			return nil, err
		}
	}
	tr.Pass("header", "no jwk, jku, x5u, x5c, x5t or x5t#S256 header")
	var c shrClaims
	if err := c.read(j.Payload); err != nil {
		if tr != nil {
			tr.Fail("claims", c.failedValue(), err)
		}
		return nil, err
	}
	if tr != nil {
		tr.Pass("claims", c.present())
	}
	if !strictTyp {
		if c.hasHTM || c.hasHTU {
			return nil, tr.Fail("shape", "htm or htu claims", shrErr(popguard.ReasonSHRTyp, "The PoP signed request is not shaped like a signed HTTP request", nil))
		}
		tr.Pass("shape", "an at claim and no htm or htu")
	}

	// The request binding: cheap, and needs neither token nor key. ts is
	// not compared with the clock when freshness is judged by the nonce
	// alone (read checked that it is an integer of at most 11 digits).
	ts := time.Unix(c.ts, 0)
	if req.Freshness.byIAT() {
		if err := v.window("ts", ts, v.now(), v.maxAge, v.futureSkew, func(desc string) error {
			return shrErr(popguard.ReasonSHRTs, desc, nil)
		}, "The PoP signed request is too old", "The PoP signed request ts is in the future"); err != nil {
			return nil, err
		}
	} else if tr != nil {
		tr.Skip("ts", timeValue(ts, v.now())+": freshness is judged by the nonce")
	}
	if err := v.match("m", trace.Method, "request method", c.m, req.Method, func() error {
		return shrErr(popguard.ReasonSHRM, "The PoP signed request m does not match the request method", nil)
	}); err != nil {
		return nil, err
	}
	if v.lacks(trace.Target) {
		v.unknown("u", c.u, "request URI")
		v.unknown("target", "", "request URI")
		v.unknown("p", c.p, "request URI")
	} else {
		if err := shrwire.MatchHost(c.u, req.Scheme, req.Host); err != nil {
			err = withMismatch(err, "u", c.u, req.Scheme+"://"+req.Host)
			if tr != nil {
				tr.Fail("u", fmt.Sprintf("u %q, request %s://%s", c.u, req.Scheme, req.Host), err)
			}
			return nil, err
		}
		tr.Pass("u", c.u)
		if uri.HasDotSegment(req.Path) {
			err := uri.DotSegmentRejection(nil)
			if tr != nil {
				tr.Fail("target", strconv.Quote(req.Path), err)
			}
			return nil, err
		}
		tr.Pass("target", req.Path)
		if !shrwire.MatchPath(c.p, req.Path, req.RawQuery, v.browserCompat) {
			err := withMismatch(shrErr(popguard.ReasonSHRP, "The PoP signed request p does not match the request path", nil), "p", c.p, req.Path)
			if tr != nil {
				tr.Fail("p", fmt.Sprintf("p %q, request path %q", c.p, req.Path), err)
			}
			return nil, err
		}
		tr.Pass("p", c.p)
	}
	checkBody := c.hasB || v.requireBody || slices.Contains(v.bodyMethods, req.Method)
	if checkBody && !c.hasB {
		return nil, tr.Fail("b", "absent", shrErr(popguard.ReasonSHRB, "The PoP signed request has no b claim", nil))
	}

	// The access token, before any signature work (draft-03 §7.4).
	tok, err := v.tokens.VerifyToken(ctx, c.at)
	if err == nil && tok == nil {
		err = errors.New("validate: TokenVerifier returned no token")
	}
	if err != nil {
		return nil, tr.Fail("at", "", popguard.AsError(err))
	}
	tr.Pass("at", "valid (token verifier)")
	key, err := v.popKey(tok, &c)
	if err != nil {
		if tr != nil {
			tr.Fail("binding", cnfValue(tok.Cnf), err)
		}
		return nil, err
	}
	if tr != nil {
		tr.Pass("binding", cnfValue(tok.Cnf)+"; PoP key: "+keyValue(key))
	}
	if !alg.Fits(key) {
		err := shrErr(popguard.ReasonSHRAlg, "The PoP signed request alg does not match its key", nil)
		if tr != nil {
			tr.Fail("alg-key", j.Alg+" with a "+keyValue(key), err)
		}
		return nil, err
	}
	tr.Pass("alg-key", j.Alg)
	if j.HasKid {
		tp, ok := shrwire.KidThumbprint(j.Kid)
		switch {
		case !ok:
			tr.Skip("kid", "not a thumbprint: ignored")
		case tp != key.Thumbprint:
			err := shrErr(popguard.ReasonSHRKey, "The PoP signed request kid does not name its key", nil)
			if tr != nil {
				tr.Fail("kid", "names thumbprint "+strconv.Quote(tp)+", PoP key thumbprint "+key.Thumbprint, err)
			}
			return nil, err
		default:
			tr.Pass("kid", tp)
		}
	}
	if err := jose.Verify(alg, key, j.SigningInput, j.Signature); err != nil {
		return nil, tr.Fail("signature", j.Alg, shrErr(popguard.ReasonSHRSignature, "The PoP signed request signature is invalid", err))
	}
	if tr != nil {
		tr.Pass("signature", j.Alg+" signature verifies with the PoP key")
	}
	var clientClaims map[string]any
	if c.hasClientClaims {
		if clientClaims, err = parseClientClaims(c.clientClaims); err != nil {
			return nil, tr.Fail("client_claims", fmt.Sprintf("%d bytes", len(c.clientClaims)), err)
		}
		if tr != nil {
			tr.Pass("client_claims", fmt.Sprintf("a JSON object of %d members", len(clientClaims)))
		}
	}

	// q and h after the signature: their cost grows with the request's
	// query and headers, which an unauthenticated caller chooses.
	if v.lacks(trace.Target) {
		if tr != nil && c.q != nil {
			v.unknown("q", "covers "+quoteList(c.q.Names), "request URI")
		}
	} else if err := v.checkQuery(&c, req.RawQuery); err != nil {
		if tr != nil {
			tr.Fail("q", queryValue(c.q, req.RawQuery), err)
		}
		return nil, err
	} else if tr != nil {
		v.traceQuery(c.q, req.RawQuery)
	}
	if v.lacks(trace.Headers) {
		if tr != nil && c.h != nil {
			v.unknown("h", "covers "+quoteList(c.h.Names), "request headers")
		}
	} else if err := v.checkHeaders(&c, req.Header); err != nil {
		if tr != nil {
			tr.Fail("h", headersValue(c.h), err)
		}
		return nil, err
	} else if tr != nil && (c.h != nil || len(v.requireHeaders) > 0) {
		tr.Pass("h", headersValue(c.h))
	}

	switch {
	case !checkBody:
		tr.Skip("b", "absent, and not required")
	case v.lacks(trace.Body):
		v.unknown("b", c.b, "request body")
	default:
		var body []byte
		if req.Body != nil {
			if body, err = req.Body(); err != nil {
				var pe *popguard.Error
				if !errors.As(err, &pe) {
					pe = popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonSHRB, "The request body could not be read", err)
				}
				return nil, tr.Fail("b", "", pe)
			}
		}
		sum := sha256.Sum256(body)
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); c.b != want {
			err := shrErr(popguard.ReasonSHRB, "The PoP signed request b does not match the request body", nil)
			if tr != nil {
				tr.Fail("b", "b "+strconv.Quote(c.b)+", SHA-256 of the body "+want, err)
			}
			return nil, err
		}
		tr.Pass("b", c.b)
	}

	var next string
	if req.Nonces != nil {
		if !c.hasNonce || c.nonce == "" {
			return nil, tr.Fail("nonce", "absent", shrErr(popguard.ReasonNonceMissing, "Resource server requires nonce in PoP signed request", nil))
		}
		fresh, err := req.Nonces.Check(c.nonce)
		if err != nil {
			return nil, tr.Fail("nonce", c.nonce, shrErr(popguard.ReasonNonceInvalid, "The PoP signed request nonce is invalid or expired", err))
		}
		if !fresh {
			next = req.Nonces.Issue()
		}
		tr.Pass("nonce", c.nonce)
	} else if tr != nil {
		tr.Skip("nonce", nonceValue(c.hasNonce, c.nonce))
	}

	dot := strings.IndexByte(j.SigningInput, '.')
	s := &SHR{
		Token:        tok,
		Thumbprint:   key.Thumbprint,
		Nonce:        c.nonce,
		NextNonce:    next,
		Timestamp:    ts,
		ClientClaims: clientClaims,
		payloadHash:  jose.HashB64(j.SigningInput[dot+1:]),
	}
	tr.Skip("replay", "")
	return s, nil
}

// parseClientClaims reads msal-browser's client_claims string: one JSON
// object, parsed strictly and size-capped.
func parseClientClaims(raw string) (map[string]any, error) {
	if len(raw) > maxClientClaims {
		return nil, shrErr(popguard.ReasonSHRClientClaims, "The PoP signed request client_claims is too large", nil)
	}
	members, err := jose.ParseObject([]byte(raw))
	if err != nil {
		return nil, shrErr(popguard.ReasonSHRClientClaims, "The PoP signed request client_claims is not a JSON object", err)
	}
	out := make(map[string]any, len(members))
	for _, m := range members {
		var v any
		if err := json.Unmarshal(m.Value, &v); err != nil { // not reached: ParseObject validated it
			return nil, shrErr(popguard.ReasonSHRClientClaims, "The PoP signed request client_claims is not a JSON object", err)
		}
		out[m.Name] = v
	}
	return out, nil
}

// traceQuery reports a q check that passed, or that had nothing to check.
func (v *SHRVerifier) traceQuery(q *shrwire.List, rawQuery string) {
	switch {
	case q != nil:
		v.tr.Pass("q", queryValue(q, rawQuery))
	case strings.ContainsFunc(rawQuery, func(r rune) bool { return r != '&' }):
		v.tr.Skip("q", "absent: the query "+strconv.Quote(rawQuery)+" is not signed")
	}
}

// queryValue shows a q claim against the request query (for tracing).
func queryValue(q *shrwire.List, rawQuery string) string {
	switch {
	case q == nil:
		return "absent, request query " + strconv.Quote(rawQuery)
	case len(q.Names) == 0 && q.Value == shrEmptyHash:
		return "covers nothing (the hash of the empty string), request query " + strconv.Quote(rawQuery)
	case len(q.Names) == 0:
		return "raw form " + strconv.Quote(q.Value) + ", request query " + strconv.Quote(rawQuery)
	}
	return "hash over " + quoteList(q.Names) + ", request query " + strconv.Quote(rawQuery)
}

// headersValue shows an h claim (for tracing).
func headersValue(h *shrwire.List) string {
	if h == nil {
		return "absent"
	}
	return "hash over " + quoteList(h.Names)
}

// shrTyp classifies the typ header: strict is true for "pop"; ok is false
// for a typ that is never accepted.
func shrTyp(j *jose.JWS) (strict, ok bool) {
	if !j.HasTyp {
		return false, true
	}
	t := j.Typ
	if len(t) > len("application/") && ascii.EqualFold(t[:len("application/")], "application/") {
		t = t[len("application/"):]
	}
	switch {
	case ascii.EqualFold(t, "pop"):
		return true, true
	case ascii.EqualFold(t, "jwt"):
		return false, true
	}
	return false, false
}

// popKey resolves the PoP key from the validated token's cnf.
func (v *SHRVerifier) popKey(tok *Token, c *shrClaims) (*jose.PublicKey, error) {
	cnf := tok.Cnf
	switch {
	case !cnf.Bound():
		return nil, tokenErr(popguard.ReasonTokenNotBound, "The access token is not bound to a PoP key", nil)
	case cnf.JKT != "":
		return nil, tokenErr(popguard.ReasonTokenKeyBinding, "The access token is bound to a DPoP key, not a PoP key", nil)
	case cnf.X5tS256 != "":
		return nil, tokenErr(popguard.ReasonTokenKeyBinding, "The access token is bound to a client certificate, not a PoP key", nil)
	case cnf.JWE != nil:
		return nil, tokenErr(popguard.ReasonTokenKeyBinding, "The access token is bound to a symmetric key, which is not accepted", nil)
	case cnf.JWK != nil:
		key, err := v.keys.parse(cnf.JWK)
		if err != nil {
			return nil, tokenErr(popguard.ReasonTokenCnf, "The access token cnf.jwk is not an acceptable public key", err)
		}
		if c.cnfJWK != nil {
			own, err := v.keys.parse(c.cnfJWK)
			if err != nil {
				return nil, shrErr(popguard.ReasonSHRKey, "The PoP signed request cnf.jwk is not an acceptable public key", err)
			}
			if own.Thumbprint != key.Thumbprint {
				return nil, tokenErr(popguard.ReasonTokenKeyBinding, "Invalid PoP key binding", nil)
			}
		}
		return key, nil
	case cnf.JKU != "":
		return nil, shrErr(popguard.ReasonSHRKey, "The access token names its PoP key by jku, which is never dereferenced", nil)
	case cnf.KID != "":
		if c.cnfJWK == nil {
			return nil, shrErr(popguard.ReasonSHRKey, "The PoP signed request has no cnf.jwk", nil)
		}
		key, err := v.keys.parse(c.cnfJWK)
		if err != nil {
			return nil, shrErr(popguard.ReasonSHRKey, "The PoP signed request cnf.jwk is not an acceptable public key", err)
		}
		if key.Thumbprint != cnf.KID {
			return nil, tokenErr(popguard.ReasonTokenKeyBinding, "Invalid PoP key binding", nil)
		}
		return key, nil
	}
	return nil, tokenErr(popguard.ReasonTokenKeyBinding, "The access token is not bound to a PoP key", nil)
}

// shrClaims are the payload members of an SHR.
type shrClaims struct {
	at, m, u, p, b, nonce string
	clientClaims          string
	ts                    int64
	q, h                  *shrwire.List
	cnfJWK                []byte
	hasB, hasNonce        bool
	hasHTM, hasHTU        bool
	hasClientClaims       bool
	// failed names the claim read refused (for tracing).
	failed string
}

// present lists the claims read (for tracing).
func (c *shrClaims) present() string {
	s := "at, ts, m, u, p"
	for _, o := range []struct {
		name string
		has  bool
	}{{"q", c.q != nil}, {"h", c.h != nil}, {"b", c.hasB}, {"nonce", c.hasNonce}, {"cnf.jwk", c.cnfJWK != nil}, {"client_claims", c.hasClientClaims}} {
		if o.has {
			s += ", " + o.name
		}
	}
	return s
}

// failedValue names the claim read refused (for tracing).
func (c *shrClaims) failedValue() string {
	if c.failed == "" {
		return ""
	}
	return "claim " + strconv.Quote(c.failed)
}

func (c *shrClaims) read(members []jose.Member) error {
	var hasAt, hasTS, hasM, hasU, hasP bool
	for _, m := range members {
		ok := true
		var reason popguard.Reason
		switch m.Name {
		case "at":
			c.at, ok = jose.String(m.Value)
			hasAt, reason = true, popguard.ReasonSHRMalformed
		case "ts":
			c.ts, ok = shrwire.Int(m.Value)
			hasTS, reason = true, popguard.ReasonSHRTs
		case "m":
			c.m, ok = jose.String(m.Value)
			hasM, reason = true, popguard.ReasonSHRM
		case "u":
			c.u, ok = jose.String(m.Value)
			hasU, reason = true, popguard.ReasonSHRU
		case "p":
			c.p, ok = jose.String(m.Value)
			hasP, reason = true, popguard.ReasonSHRP
		case "q":
			c.q, ok = shrwire.ReadList(m.Value)
			reason = popguard.ReasonSHRQ
		case "h":
			c.h, ok = shrwire.ReadList(m.Value)
			reason = popguard.ReasonSHRH
		case "b":
			c.b, ok = jose.String(m.Value)
			c.hasB, reason = true, popguard.ReasonSHRB
		case "nonce":
			c.nonce, ok = jose.String(m.Value)
			c.hasNonce, reason = true, popguard.ReasonSHRMalformed
		case "cnf":
			reason = popguard.ReasonSHRKey
			var cnf []jose.Member
			if len(m.Value) > 0 && m.Value[0] == '{' {
				cnf, _ = jose.ParseObject(m.Value)
			} else {
				ok = false
			}
			if jwk, has := jose.Lookup(cnf, "jwk"); has {
				ok = ok && len(jwk) > 0 && jwk[0] == '{'
				c.cnfJWK = jwk
			}
		case "client_claims":
			c.clientClaims, ok = jose.String(m.Value)
			c.hasClientClaims, reason = true, popguard.ReasonSHRClientClaims
		case "htm":
			c.hasHTM = true
		case "htu":
			c.hasHTU = true
		}
		if !ok {
			c.failed = m.Name
			return shrErr(reason, "The PoP signed request claim "+m.Name+" has the wrong type", nil)
		}
	}
	switch {
	case !hasAt || c.at == "":
		return shrErr(popguard.ReasonSHRMalformed, "The PoP signed request has no at claim", nil)
	case !hasTS:
		return shrErr(popguard.ReasonSHRTs, "The PoP signed request has no ts claim", nil)
	case !hasM || c.m == "":
		return shrErr(popguard.ReasonSHRM, "The PoP signed request has no m claim", nil)
	case !hasU || c.u == "":
		return shrErr(popguard.ReasonSHRU, "The PoP signed request has no u claim", nil)
	case !hasP || c.p == "":
		return shrErr(popguard.ReasonSHRP, "The PoP signed request has no p claim", nil)
	}
	return nil
}

// shrwire.ReadList reads [[string...], string].

// shrEmptyHash is base64url(SHA-256("")): IdentityModel's q and h when
// nothing is covered.
const shrEmptyHash = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"

// shrQueryParams is the sanitized view of a raw query (IdentityModel's
// SanitizeQueryParams, made stricter on repetition): params holds pieces
// with exactly one '=' and a non-empty name and value; repeated holds every
// name (the part before the first '=') that occurs in more than one piece,
// whatever their form.
type shrQueryParams struct {
	params   map[string]string
	repeated map[string]bool
}

func parseSHRQuery(rawQuery string) shrQueryParams {
	qp := shrQueryParams{params: map[string]string{}, repeated: map[string]bool{}}
	// Repetition is judged on decoded names, as the application will see
	// them: a=1&%61=2 is "a" twice to url.Values, so a must not count as
	// covered by a hash over a=1 alone.
	decoded := func(name string) string {
		if d, err := url.QueryUnescape(name); err == nil {
			return d
		}
		return name
	}
	count := map[string]int{}
	for piece := range strings.SplitSeq(rawQuery, "&") {
		if piece == "" {
			continue
		}
		name, _, _ := strings.Cut(piece, "=")
		count[decoded(name)]++
	}
	for piece := range strings.SplitSeq(rawQuery, "&") {
		if piece == "" {
			continue
		}
		name, value, _ := strings.Cut(piece, "=")
		if count[decoded(name)] > 1 {
			qp.repeated[name] = true
			delete(qp.params, name)
			continue
		}
		if name != "" && value != "" && strings.IndexByte(value, '=') < 0 {
			qp.params[name] = value
		}
	}
	return qp
}

// qBuffer builds the q hash input for names, or says why it cannot.
func (qp shrQueryParams) buffer(names []string) (string, string) {
	var b strings.Builder
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return "", "The PoP signed request q lists a parameter twice"
		}
		if qp.repeated[n] {
			return "", "The PoP signed request q covers a repeated query parameter"
		}
		v, ok := qp.params[n]
		if !ok {
			return "", "The PoP signed request q covers a query parameter the request does not have"
		}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(v)
	}
	return b.String(), ""
}

func (v *SHRVerifier) checkQuery(c *shrClaims, rawQuery string) error {
	hasQuery := strings.ContainsFunc(rawQuery, func(r rune) bool { return r != '&' })
	q := c.q
	if q == nil {
		if v.requireQuery && hasQuery {
			return shrErr(popguard.ReasonSHRQ, "The PoP signed request has no q claim", nil)
		}
		return nil
	}
	if len(q.Names) == 0 {
		switch {
		case q.Value == rawQuery:
			return nil // msal-browser's raw form: the whole query is bound
		case v.browserCompat && q.Value == ascii.Lower(rawQuery):
			return nil
		case q.Value == shrEmptyHash:
			// IdentityModel's q when it covers nothing.
			if v.requireQuery && hasQuery {
				return shrErr(popguard.ReasonSHRQ, "The PoP signed request q does not cover the query", nil)
			}
			return nil
		}
		return shrErr(popguard.ReasonSHRQ, "The PoP signed request q does not match the request query", nil)
	}
	qp := parseSHRQuery(rawQuery)
	buf, why := qp.buffer(q.Names)
	if why != "" {
		return shrErr(popguard.ReasonSHRQ, why, nil)
	}
	if jose.HashB64(buf) != q.Value {
		return shrErr(popguard.ReasonSHRQ, "The PoP signed request q does not match the request query", nil)
	}
	if v.requireQuery {
		for piece := range strings.SplitSeq(rawQuery, "&") {
			if piece == "" {
				continue
			}
			name, _, _ := strings.Cut(piece, "=")
			if !slices.Contains(q.Names, name) {
				return shrErr(popguard.ReasonSHRQ, "The PoP signed request q does not cover every query parameter", nil)
			}
		}
	}
	return nil
}

// shrHeaderIndex maps lower-cased header names to every value under any
// spelling of the name, built once per request in one pass over the
// headers, so looking up the names of h costs O(headers + names), not
// O(headers x names), before the signature is checked.
func shrHeaderIndex(h http.Header) map[string][]string {
	idx := make(map[string][]string, len(h))
	for k, vs := range h {
		l := ascii.Lower(k)
		idx[l] = append(idx[l], vs...)
	}
	return idx
}

func (v *SHRVerifier) checkHeaders(c *shrClaims, h http.Header) error {
	var idx map[string][]string
	if c.h != nil || len(v.requireHeaders) > 0 {
		idx = shrHeaderIndex(h)
	}
	if c.h != nil {
		var b strings.Builder
		for i, n := range c.h.Names {
			if ascii.EqualFold(n, "authorization") {
				return shrErr(popguard.ReasonSHRH, "The PoP signed request h must not cover Authorization", nil)
			}
			for _, prev := range c.h.Names[:i] {
				if ascii.EqualFold(prev, n) {
					return shrErr(popguard.ReasonSHRH, "The PoP signed request h lists a header twice", nil)
				}
			}
			vs := idx[ascii.Lower(n)]
			switch {
			case len(vs) == 0 || (len(vs) == 1 && vs[0] == ""):
				return shrErr(popguard.ReasonSHRH, "The PoP signed request h covers a header the request does not have", nil)
			case len(vs) > 1:
				return shrErr(popguard.ReasonSHRH, "The PoP signed request h covers a repeated header", nil)
			}
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(n)
			b.WriteString(": ")
			b.WriteString(vs[0])
		}
		if jose.HashB64(b.String()) != c.h.Value {
			return shrErr(popguard.ReasonSHRH, "The PoP signed request h does not match the request headers", nil)
		}
	}
	for _, req := range v.requireHeaders {
		if len(idx[ascii.Lower(req)]) == 0 {
			continue
		}
		covered := false
		if c.h != nil {
			for _, n := range c.h.Names {
				if ascii.EqualFold(n, req) {
					covered = true
					break
				}
			}
		}
		if !covered {
			return shrErr(popguard.ReasonSHRH, "The PoP signed request h does not cover a required header", nil)
		}
	}
	return nil
}
