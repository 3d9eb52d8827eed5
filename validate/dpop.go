package validate

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/internal/uri"
)

// DefaultProofAlgs returns a copy of the default DPoP proof algorithm
// allow-list, also advertised in the algs parameter of DPoP challenges: what real clients
// sign with. ES256 is what browsers (WebCrypto), oauth4webapi, panva/dpop,
// Keycloak's adapters and most SDKs use; PS256 and RS256 come from clients
// with RSA keys (Microsoft.IdentityModel's DPoP defaults are ES256, PS256
// and RS256); EdDSA (Ed25519) is node-oidc-provider's default with ES256.
// ES384, ES512, PS384 and PS512 are left out: no common client defaults to
// them, and Go verifies P-384 and P-521 signatures about 10 and 40 times
// slower than P-256 ones, a cost the caller would choose. Algs adds
// them back.
func DefaultProofAlgs() []string { return []string{"ES256", "PS256", "RS256", "EdDSA"} }

// Defaults of NewProofVerifier.
const (
	defaultProofMaxAge     = 60 * time.Second
	defaultProofFutureSkew = 10 * time.Second
	defaultMaxJTILength    = 256
	defaultMaxProofSize    = 8192
)

// ProofVerifier checks DPoP proofs (RFC 9449 §4.3). It is safe for
// concurrent use.
type ProofVerifier struct {
	algs       []string
	algSet     map[string]*jose.Alg
	maxAge     time.Duration
	futureSkew time.Duration
	maxJTI     int
	maxSize    int
	keyPolicy  jose.KeyPolicy
	now        func() time.Time
	keyCache   int
	keys       keyCache
	traced
}

// NewProofVerifier returns a DPoP proof verifier.
func NewProofVerifier(opts ...Option) (*ProofVerifier, error) {
	v := &ProofVerifier{
		maxAge:     defaultProofMaxAge,
		futureSkew: defaultProofFutureSkew,
		maxJTI:     defaultMaxJTILength,
		maxSize:    defaultMaxProofSize,
		now:        time.Now,
		keyCache:   defaultKeyCache,
	}
	if err := Algs(DefaultProofAlgs()...).proof(v); err != nil {
		return nil, err
	}
	if err := applyProof(opts, v); err != nil {
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

func algMust(name string) *jose.Alg {
	a, _ := jose.LookupAlg(name)
	return a
}

// Algs returns the allow-list, for the algs parameter of DPoP challenges.
func (v *ProofVerifier) Algs() []string { return slices.Clone(v.algs) }

// Window returns the acceptance window of a proof judged by its iat
// (FreshnessIAT): max age plus future skew. Replay stores must remember a
// proof at least this long. Under FreshnessNonce the window is the nonce's
// lifetime instead (nonce.Source.Lifetime), and under FreshnessBoth the
// shorter of the two.
func (v *ProofVerifier) Window() time.Duration { return v.maxAge + v.futureSkew }

// Nonces issues and checks server nonces: RFC 9449 §8 and §9 for DPoP, the
// nonce claim of Microsoft PoP signed requests. nonce.Source implements it.
type Nonces interface {
	// Issue returns the nonce to hand out now.
	Issue() string
	// Check reports whether nonce is one this server issued and still
	// accepts; fresh is false when it is accepted but a newer one should be
	// handed out (rotation). For DPoP it runs before the proof's signature
	// is verified (a missing or stale nonce is answered cheaply), so it must
	// not consume state: a single-use nonce store would let a forged proof
	// burn a nonce. nonce.Source is stateless.
	Check(nonce string) (fresh bool, err error)
}

// ProofRequest is what a proof is checked against.
type ProofRequest struct {
	// Method is the HTTP method, compared exactly with htm.
	Method string
	// Target is the absolute target URI as the client saw it (scheme,
	// authority, path, optional query), compared with htu after RFC 3986
	// normalization, ignoring query and fragment.
	Target string
	// AccessToken is the token from the Authorization header. When set, the
	// proof must carry ath = base64url(SHA-256(AccessToken)).
	AccessToken string
	// Nonces, when set, requires the proof to carry a nonce it accepts.
	Nonces Nonces
	// Freshness says how the proof's age is judged: by its iat (the
	// default), by its nonce, or both. FreshnessNonce and FreshnessBoth
	// need Nonces.
	Freshness Freshness
}

// Proof is a DPoP proof that passed every check.
type Proof struct {
	JTI      string
	Method   string
	HTU      string // canonical form
	IssuedAt time.Time
	Nonce    string
	Alg      string
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the proof key.
	Thumbprint string
	// NextNonce is the nonce to hand the client (DPoP-Nonce) when the one
	// it used is accepted but no longer current; empty otherwise.
	NextNonce string
	// ClientClaims holds the proof's claims beyond RFC 9449's (jti, htm,
	// htu, iat, ath, nonce), decoded from JSON: statements of the key
	// holder, not of the issuer. nil when there are none.
	ClientClaims map[string]any
}

// ReplayKey returns the identity under which a replay store remembers the
// proof: a hash of (jkt, jti). It never uses the proof bytes, since ECDSA
// signatures are malleable.
func (p *Proof) ReplayKey() string {
	return replayKey("dpop", p.Thumbprint, p.JTI)
}

func replayKey(kind, key, id string) string {
	var buf [384]byte // kind, a thumbprint and a jti of up to 256 bytes fit
	in := append(append(append(append(append(buf[:0], kind...), 0), key...), 0), id...)
	sum := sha256.Sum256(in)
	var out [43]byte // base64url of 32 bytes, unpadded
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}

// forbiddenProofHeaders point at keys elsewhere; the proof key comes only
// from jwk (RFC 9449 §4.3 check 6; RFC 8725 §3.10).
var forbiddenProofHeaders = [...]string{"jku", "x5u", "x5c", "x5t", "x5t#S256"}

// Verify checks proof against req: every check of RFC 9449 §4.3 except
// replay (the caller inserts ReplayKey into a replay store once all other
// checks, including the token's, have passed) and the binding to the token
// (CheckDPoPBinding).
func (v *ProofVerifier) Verify(proof string, req ProofRequest) (*Proof, error) {
	c, err := v.check(proof, req, &tokenDigest{token: req.AccessToken})
	if err != nil {
		return nil, err
	}
	p, err := v.finish(&c)
	if err == nil && v.tr != nil {
		v.skipReplay(p)
	}
	return p, err
}

// skipReplay reports the one check of RFC 9449 §4.3 that Verify leaves to
// the caller.
func (v *ProofVerifier) skipReplay(p *Proof) {
	v.tr.Skip("replay", "jti "+strconv.Quote(p.JTI))
}

// VerifyRequest checks a DPoP-protected request (RFC 9449 §7): the proof
// against req (every check of Verify), the access token req.AccessToken
// with tokens, and the binding of the token to the proof key
// (CheckDPoPBinding). It does not check replay: once every other check of
// the request has passed, the caller inserts the proof's ReplayKey into a
// replay store.
//
// The order keeps an unauthenticated request cheap. First the proof's
// syntax, claims, htm, htu, iat, ath and nonce, which cost microseconds;
// then, when tokens can answer locally (a TokenCache hit, or a JWTVerifier,
// directly or under a TokenCache), the access token, whose cost the issuer
// fixes; then the proof key and signature, whose algorithm and key size the
// caller chooses; and only then a token verifier that makes a network call
// (introspection), so that call is spent on proofs with a valid signature.
func (v *ProofVerifier) VerifyRequest(ctx context.Context, tokens TokenVerifier, proof string, req ProofRequest) (*Proof, *Token, error) {
	tr := v.tr
	if req.AccessToken == "" {
		return nil, nil, tr.Fail("token", "missing", tokenErr(popguard.ReasonTokenMalformed, "The access token is missing", nil))
	}
	// The ath check and the token cache both need SHA-256 of the token:
	// it is computed once, when the first of them asks. (The digest lives
	// in tv, not behind a pointer, so that it stays on the stack.)
	tv := stagedToken{tokens: tokens, token: req.AccessToken, digest: tokenDigest{token: req.AccessToken}}
	c, err := v.check(proof, req, &tv.digest)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tv.cached()
	cached := tok != nil
	if tok == nil && err == nil && tv.local() {
		tok, err = tv.verify(ctx)
	}
	if err != nil {
		return nil, nil, tr.Fail("token", "", err)
	}
	if tok != nil && tr != nil {
		tr.Pass("token", tokenSource(cached))
	}
	p, err := v.finish(&c)
	if err != nil {
		return nil, nil, err
	}
	if tok == nil {
		if tok, err = tv.verify(ctx); err != nil {
			return nil, nil, tr.Fail("token", "", err)
		}
		tr.Pass("token", tokenSource(false))
	}
	if err := CheckDPoPBinding(tok, p); err != nil {
		if tr != nil {
			tr.Fail("binding", bindingValue(tok, p), err)
		}
		return nil, nil, err
	}
	if tr != nil {
		tr.Pass("binding", bindingValue(tok, p))
		v.skipReplay(p)
	}
	return p, tok, nil
}

// tokenSource says where VerifyRequest found the token valid (for tracing).
func tokenSource(cached bool) string {
	if cached {
		return "valid (token cache)"
	}
	return "valid (token verifier)"
}

// bindingValue shows the token's cnf against the proof key (for tracing).
func bindingValue(tok *Token, p *Proof) string {
	cnf := "no cnf"
	switch {
	case tok.Cnf.JKT != "":
		cnf = "cnf.jkt " + tok.Cnf.JKT
	case tok.Cnf.Bound():
		cnf = "a cnf without jkt"
	}
	return cnf + ", proof key thumbprint " + p.Thumbprint
}

// tokenDigest is SHA-256 of an access token, computed at most once.
type tokenDigest struct {
	token string
	sum   [sha256.Size]byte
	done  bool
}

func (d *tokenDigest) get() [sha256.Size]byte {
	if !d.done {
		d.sum, d.done = jose.SHA256String(d.token), true
	}
	return d.sum
}

// stagedToken verifies one access token with a TokenVerifier, looking a
// TokenCache up once (by the token's digest) and filling it on a miss.
type stagedToken struct {
	tokens TokenVerifier
	token  string
	digest tokenDigest // of token
	cache  *TokenCache
}

// cached returns the token when a TokenCache holds it.
func (s *stagedToken) cached() (*Token, error) {
	if s.tokens == nil {
		return nil, popguard.AsError(errors.New("validate: VerifyRequest without a TokenVerifier"))
	}
	c, ok := s.tokens.(*TokenCache)
	if !ok {
		return nil, nil
	}
	s.cache = c
	tok, _ := c.lookup(s.digest.get())
	return tok, nil
}

// local reports whether verifying the token needs no network call: a
// JWTVerifier whose key set has the keys (a RemoteKeySet fetches only for an
// unknown kid, rate-limited).
func (s *stagedToken) local() bool {
	tv := s.tokens
	if s.cache != nil {
		tv = s.cache.inner
	}
	_, ok := tv.(*JWTVerifier)
	return ok
}

func (s *stagedToken) verify(ctx context.Context) (*Token, error) {
	var tok *Token
	var err error
	if s.cache != nil {
		tok, err = s.cache.fill(ctx, s.digest.get(), s.token)
	} else {
		tok, err = s.tokens.VerifyToken(ctx, s.token)
	}
	if err != nil {
		return nil, popguard.AsError(err)
	}
	if tok == nil {
		return nil, popguard.AsError(errors.New("validate: TokenVerifier returned no token"))
	}
	return tok, nil
}

// checkedProof is a proof that passed every check but its key and
// signature.
type checkedProof struct {
	j      *jose.JWS
	alg    *jose.Alg
	c      proofClaims
	htu    string
	iat    time.Time
	rotate Nonces // set when the nonce is accepted but not current
}

// check runs the checks of Verify whose cost does not depend on the
// caller's choice of algorithm and key: syntax, typ, alg, claims, htm, htu,
// iat, ath and nonce.
func (v *ProofVerifier) check(proof string, req ProofRequest, digest *tokenDigest) (checkedProof, error) {
	tr := v.tr
	if err := req.Freshness.check(req.Nonces); err != nil {
		return checkedProof{}, tr.Fail("freshness", "", err)
	}
	if proof == "" {
		return checkedProof{}, tr.Fail("structure", "empty", proofErr(popguard.ReasonProofMissing, "The DPoP proof is missing", nil))
	}
	j, err := jose.ParseCompact(proof, v.maxSize)
	if err != nil {
		reason, desc := popguard.ReasonProofMalformed, "The DPoP proof is not a well-formed JWT"
		switch {
		case errors.Is(err, jose.ErrTooLarge):
			reason, desc = popguard.ReasonProofTooLarge, "The DPoP proof is too large"
		case errors.Is(err, jose.ErrCrit):
			reason = popguard.ReasonProofCrit
		}
		err = proofErr(reason, desc, err)
	}
	if err := v.structure(len(proof), v.maxSize, err); err != nil {
		return checkedProof{}, err
	}
	// §4.3 check 4: typ. Exact: not "JWT", "at+jwt", nor the media type form.
	if j.Typ != "dpop+jwt" {
		err := proofErr(popguard.ReasonProofTyp, "The DPoP proof typ is not dpop+jwt", nil)
		return checkedProof{}, v.report("typ", err, func() string { return typValue(j) })
	}
	tr.Pass("typ", "dpop+jwt")
	// Check 5: an allowed asymmetric algorithm.
	alg, ok := v.algSet[j.Alg]
	if !ok {
		err := proofErr(popguard.ReasonProofAlg, "The DPoP proof alg is not allowed", nil)
		if tr != nil {
			tr.Fail("alg", fmt.Sprintf("%q (allowed: %s)", j.Alg, quoteList(v.algs)), err)
		}
		return checkedProof{}, err
	}
	tr.Pass("alg", j.Alg)
	if j.JWK == nil {
		return checkedProof{}, tr.Fail("jwk", "no jwk header", proofErr(popguard.ReasonProofJWK, "The DPoP proof has no jwk header", nil))
	}
	for _, h := range forbiddenProofHeaders {
		if j.HeaderHas(h) {
			err := proofErr(popguard.ReasonProofJWK, "The DPoP proof key must come from the jwk header only", nil)
			if tr != nil {
				tr.Fail("jwk", "a "+h+" header", err)
			}
			return checkedProof{}, err
		}
	}
	tr.Pass("jwk", "a jwk header and no jku, x5u, x5c, x5t or x5t#S256")
	// Check 3: required claims, with their types.
	var c proofClaims
	if err := c.read(j.Payload); err != nil {
		return checkedProof{}, tr.Fail("claims", "", err)
	}
	if tr != nil {
		tr.Pass("claims", c.present())
	}
	if len(c.jti) > v.maxJTI {
		err := proofErr(popguard.ReasonProofJTI, "The DPoP proof jti is too long", nil)
		if tr != nil {
			tr.Fail("jti", fmt.Sprintf("%d bytes (at most %d)", len(c.jti), v.maxJTI), err)
		}
		return checkedProof{}, err
	}
	tr.Pass("jti", c.jti)
	// Check 8: htm, exact (methods are case-sensitive, RFC 9110 §9.1).
	if err := v.match("htm", trace.Method, "request method", c.htm, req.Method, func() error {
		return proofErr(popguard.ReasonProofHTM, "The DPoP proof htm does not match the request method", nil)
	}); err != nil {
		return checkedProof{}, err
	}
	// Check 9: htu, after the RFC 3986 normalizations that do not change
	// routing (see CanonicalHTU); a path with a dot-segment is refused.
	htu, err := CanonicalHTU(c.htu)
	if err != nil {
		err = proofErr(popguard.ReasonProofHTU, "The DPoP proof htu is not a valid http(s) URI without query and fragment", err)
		if tr != nil {
			tr.Fail("htu", strconv.Quote(c.htu), err)
		}
		return checkedProof{}, err
	}
	if v.lacks(trace.Target) {
		v.unknown("target", "", "request URI")
		v.unknown("htu", htu, "request URI")
	} else {
		target, err := CanonicalTarget(req.Target)
		if err != nil {
			err = targetErr(err)
			if tr != nil {
				tr.Fail("target", strconv.Quote(req.Target), err)
			}
			return checkedProof{}, err
		}
		tr.Pass("target", target)
		if htu != target {
			err := withMismatch(proofErr(popguard.ReasonProofHTU, "The DPoP proof htu does not match the request URI", nil), "htu", htu, target)
			if tr != nil {
				tr.Fail("htu", "canonical htu "+htu+", canonical request URI "+target, err)
			}
			return checkedProof{}, err
		}
		tr.Pass("htu", htu)
	}
	// Check 11: iat within [now-maxAge, now+futureSkew], unless the
	// route judges freshness by the nonce alone (then iat need only be a
	// valid NumericDate, which read checked).
	iat := floatTime(c.iat)
	if req.Freshness.byIAT() {
		if err := v.window("iat", iat, v.now(), v.maxAge, v.futureSkew, func(desc string) error {
			return proofErr(popguard.ReasonProofIAT, desc, nil)
		}, "The DPoP proof is too old", "The DPoP proof iat is in the future"); err != nil {
			return checkedProof{}, err
		}
	} else if tr != nil {
		tr.Skip("iat", timeValue(iat, v.now())+": freshness is judged by the nonce")
	}
	// Check 12: ath, required at a resource server (§7).
	if req.AccessToken != "" {
		if !c.hasAth {
			return checkedProof{}, tr.Fail("ath", "absent", proofErr(popguard.ReasonProofATH, "The DPoP proof has no ath claim", nil))
		}
		if sum := digest.get(); !jose.B64Equal(&sum, c.ath) {
			err := proofErr(popguard.ReasonProofATH, "The DPoP proof ath does not match the access token", nil)
			if tr != nil {
				tr.Fail("ath", "ath "+strconv.Quote(string(c.ath))+", SHA-256 of the token "+jose.HashB64(req.AccessToken), err)
			}
			return checkedProof{}, err
		}
		if tr != nil {
			tr.Pass("ath", string(c.ath)+" = SHA-256 of the token")
		}
	} else if tr != nil {
		tr.Skip("ath", "no access token to compare with")
	}
	// Check 10: the server's nonce.
	var rotate Nonces
	if c.hasNonce && !c.nonceOK && req.Nonces == nil {
		return checkedProof{}, tr.Fail("nonce", "not a string", proofErr(popguard.ReasonProofClaims, "The DPoP proof claim nonce has the wrong type", nil))
	}
	if req.Nonces != nil {
		if !c.hasNonce {
			return checkedProof{}, tr.Fail("nonce", "absent", fail(popguard.CodeUseDPoPNonce, popguard.ReasonNonceMissing, "Resource server requires nonce in DPoP proof", nil))
		}
		if !c.nonceOK {
			return checkedProof{}, tr.Fail("nonce", "not a string", fail(popguard.CodeUseDPoPNonce, popguard.ReasonNonceInvalid, "The DPoP proof nonce is invalid or expired", nil))
		}
		fresh, err := req.Nonces.Check(c.nonce)
		if err != nil {
			return checkedProof{}, tr.Fail("nonce", c.nonce, fail(popguard.CodeUseDPoPNonce, popguard.ReasonNonceInvalid, "The DPoP proof nonce is invalid or expired", err))
		}
		if !fresh {
			rotate = req.Nonces
		}
		tr.Pass("nonce", c.nonce)
	} else if tr != nil {
		tr.Skip("nonce", nonceValue(c.hasNonce, c.nonce))
	}
	return checkedProof{j: j, alg: alg, c: c, htu: htu, iat: iat, rotate: rotate}, nil
}

// nonceValue shows a nonce claim (for tracing).
func nonceValue(has bool, nonce string) string {
	if !has {
		return "absent"
	}
	return strconv.Quote(nonce)
}

// finish runs the checks left by check: the proof key and the signature.
func (v *ProofVerifier) finish(cp *checkedProof) (*Proof, error) {
	tr := v.tr
	// Checks 7 and 5: a public key (private members checked on the raw
	// JSON), consistent with alg.
	key, err := v.keys.parse(cp.j.JWK)
	if err != nil {
		return nil, tr.Fail("key", "", proofErr(popguard.ReasonProofJWK, "The DPoP proof jwk is not an acceptable public key", err))
	}
	if tr != nil {
		tr.Pass("key", keyValue(key))
	}
	if !cp.alg.Fits(key) {
		err := proofErr(popguard.ReasonProofAlg, "The DPoP proof alg does not match its jwk", nil)
		if tr != nil {
			tr.Fail("alg-key", cp.j.Alg+" with a "+keyValue(key), err)
		}
		return nil, err
	}
	tr.Pass("alg-key", cp.j.Alg)
	// Check 6: the signature, last: the most expensive step.
	if err := jose.Verify(cp.alg, key, cp.j.SigningInput, cp.j.Signature); err != nil {
		return nil, tr.Fail("signature", cp.j.Alg, proofErr(popguard.ReasonProofSignature, "The DPoP proof signature is invalid", err))
	}
	if tr != nil {
		tr.Pass("signature", cp.j.Alg+" signature verifies with the jwk")
	}
	p := &Proof{
		JTI:        cp.c.jti,
		Method:     cp.c.htm,
		HTU:        cp.htu,
		IssuedAt:   cp.iat,
		Nonce:      cp.c.nonce,
		Alg:        cp.j.Alg,
		Thumbprint: key.Thumbprint,
	}
	if cp.rotate != nil {
		p.NextNonce = cp.rotate.Issue()
	}
	if cp.c.extra > 0 {
		p.ClientClaims = extraClaims(cp.j.Payload, cp.c.extra)
	}
	return p, nil
}

// extraClaims decodes the n payload members that are not RFC 9449 claims.
// ParseCompact has already validated the payload strictly (no duplicate
// members at any depth, depth and member caps), so decoding cannot fail.
func extraClaims(members []jose.Member, n int) map[string]any {
	out := make(map[string]any, n)
	for _, m := range members {
		if isProofClaim(m.Name) {
			continue
		}
		var v any
		if err := json.Unmarshal(m.Value, &v); err == nil {
			out[m.Name] = v
		}
	}
	return out
}

// isProofClaim reports whether name is a claim RFC 9449 defines for proofs.
func isProofClaim(name string) bool {
	switch name {
	case "jti", "htm", "htu", "iat", "ath", "nonce":
		return true
	}
	return false
}

// targetErr is the rejection of a request target that CanonicalTarget
// refused: a client fault (400), with its own reason for a dot-segment.
func targetErr(err error) error {
	if errors.Is(err, uri.ErrDotSegment) {
		return uri.DotSegmentRejection(err)
	}
	return fail(popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget, "The request target URI is not valid", err)
}

type proofClaims struct {
	jti, htm, htu, nonce      string
	ath                       []byte
	iat                       float64
	hasAth, hasNonce, nonceOK bool
	extra                     int // members that are not RFC 9449 claims
}

func (c *proofClaims) read(members []jose.Member) error {
	var hasJTI, hasHTM, hasHTU, hasIAT bool
	for _, m := range members {
		ok := true
		switch m.Name {
		case "jti":
			c.jti, ok = jose.String(m.Value)
			hasJTI = true
		case "htm":
			c.htm, ok = jose.String(m.Value)
			hasHTM = true
		case "htu":
			c.htu, ok = jose.String(m.Value)
			hasHTU = true
		case "iat":
			c.iat, ok = numericDate(m.Value)
			hasIAT = true
		case "ath":
			c.ath, ok = jose.StringBytes(m.Value) // only compared: not copied
			c.hasAth = true
		case "nonce":
			// A nonce of the wrong type is a nonce problem when the server
			// requires one (use_dpop_nonce, RFC 9449 §8), so it is judged
			// in Verify, where that is known.
			c.nonce, c.nonceOK = jose.String(m.Value)
			c.hasNonce = true
		default:
			c.extra++
		}
		if !ok {
			return proofErr(popguard.ReasonProofClaims, "The DPoP proof claim "+m.Name+" has the wrong type", nil)
		}
	}
	switch {
	case !hasJTI || c.jti == "":
		return proofErr(popguard.ReasonProofJTI, "The DPoP proof has no jti", nil)
	case !hasHTM || c.htm == "":
		return proofErr(popguard.ReasonProofClaims, "The DPoP proof has no htm", nil)
	case !hasHTU || c.htu == "":
		return proofErr(popguard.ReasonProofClaims, "The DPoP proof has no htu", nil)
	case !hasIAT:
		return proofErr(popguard.ReasonProofIAT, "The DPoP proof has no iat", nil)
	}
	return nil
}

// present lists the claims read (for tracing).
func (c *proofClaims) present() string {
	s := "jti, htm, htu, iat"
	if c.hasAth {
		s += ", ath"
	}
	if c.hasNonce {
		s += ", nonce"
	}
	return s
}

// floatTime converts a NumericDate (seconds, possibly fractional).
func floatTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}
