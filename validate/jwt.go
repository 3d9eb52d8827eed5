package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/trace"
)

// DefaultTokenAlgs returns a copy of the default allow-list for access-token
// signatures.
func DefaultTokenAlgs() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// Defaults of NewJWTVerifier.
const (
	defaultLeeway       = 30 * time.Second
	defaultMaxTokenSize = 16384
	defaultMaxClaims    = 256
)

// JWTVerifier validates JWT access tokens per RFC 9068 §4: typ, signature
// with the issuer's keys and an allowed algorithm, iss, aud, exp, nbf, iat
// and the required claims. It is safe for concurrent use.
type JWTVerifier struct {
	issuer    string
	keys      KeySet
	audiences []string
	anyAud    bool
	algs      map[string]*jose.Alg
	hmac      []byte
	hmacAlgs  []string
	profile   Profile
	tenants   map[string]bool // allowed tenants of a templated issuer
	anyTenant bool
	leeway    time.Duration
	maxSize   int
	maxClaims int
	now       func() time.Time
	traced
}

// tenantTemplate is the placeholder of a multi-tenant issuer.
const tenantTemplate = "{tenantid}"

// NewJWTVerifier returns a verifier for access tokens issued by issuer and
// signed by a key in keys. The token's iss must equal issuer exactly.
//
// A multi-tenant issuer holds the placeholder {tenantid}, as in
// "https://login.microsoftonline.com/{tenantid}/v2.0": a token's iss then
// matches with its tenant in place of the placeholder, and the tenant must
// be the token's tenant claim (Profile.TenantClaim) and one of Tenants, or
// any tenant with AnyTenant. One of the two options is required.
func NewJWTVerifier(issuer string, keys KeySet, opts ...Option) (*JWTVerifier, error) {
	if issuer == "" {
		return nil, errors.New("validate: issuer is required")
	}
	if keys == nil {
		return nil, errors.New("validate: a key set is required")
	}
	v := &JWTVerifier{issuer: issuer, keys: keys, profile: RFC9068(), leeway: defaultLeeway, maxSize: defaultMaxTokenSize, maxClaims: defaultMaxClaims, now: time.Now}
	if err := Algs(DefaultTokenAlgs()...).jwt(v); err != nil {
		return nil, err
	}
	if err := applyJWT(opts, v); err != nil {
		return nil, err
	}
	if err := v.checkTemplates(); err != nil {
		return nil, err
	}
	if len(v.audiences) == 0 && !v.anyAud {
		return nil, errors.New("validate: Audience is required (RFC 9068 §4); use SkipAudienceCheck to opt out")
	}
	if v.algs["EdDSA"] != nil {
		v.algs["Ed25519"] = algMust("Ed25519")
	}
	return v, nil
}

// Issuer returns the issuer the verifier accepts.
func (v *JWTVerifier) Issuer() string { return v.issuer }

// VerifyToken implements TokenVerifier.
func (v *JWTVerifier) VerifyToken(ctx context.Context, token string) (*Token, error) {
	j, err := parseToken(token, v.maxSize, v.maxClaims)
	return v.verifyParsed(ctx, token, j, err)
}

// parseToken parses an access token within the size and member limits.
func parseToken(token string, maxSize, maxClaims int) (*jose.JWS, error) {
	j, err := jose.ParseCompactLimit(token, maxSize, maxClaims)
	if err != nil {
		return nil, tokenErr(popguard.ReasonTokenMalformed, "The access token is not a well-formed JWT", err)
	}
	return j, nil
}

// verifyParsed verifies a token parsed by parseToken with the verifier's
// limits (err is the parse error).
func (v *JWTVerifier) verifyParsed(ctx context.Context, token string, j *jose.JWS, err error) (*Token, error) {
	tr := v.tr
	if err := v.structure(len(token), v.maxSize, err); err != nil {
		return nil, err
	}
	// RFC 9068 §4 step 1: typ. This also stops DPoP proofs, SHRs and ID
	// tokens from being used as access tokens.
	if !v.profile.acceptsTyp(j.HasTyp, j.Typ) {
		err = tokenErr(popguard.ReasonTokenType, "The access token typ is not accepted", nil)
	}
	if err := v.report("typ", err, func() string { return typValue(j) }); err != nil {
		return nil, err
	}
	if j.JWK != nil || j.HeaderHas("jku") || j.HeaderHas("x5u") {
		// RFC 9068 §4: use only the keys of the authorization server.
		return nil, tr.Fail("header", "a jwk, jku or x5u header", tokenErr(popguard.ReasonTokenUnknownKey, "The access token names its own key", nil))
	}
	tr.Pass("header", "no jwk, jku or x5u header")
	var c tokenClaims
	if err := c.read(j.Payload, v.profile.TenantClaim); err != nil {
		if tr != nil {
			check := "claims"
			if c.failed == "cnf" {
				check = "cnf"
			}
			tr.Fail(check, "claim "+strconv.Quote(c.failed), err)
		}
		return nil, err
	}
	// Claims before the signature: they are cheap and may save a key fetch.
	if err := v.checkClaims(&c); err != nil {
		return nil, err
	}
	if tr != nil {
		tr.Pass("cnf", cnfValue(c.cnf))
	}
	key, err := v.verifySignature(ctx, j)
	if err != nil {
		return nil, err
	}
	if err := v.checkKeyIssuer(key, &c); err != nil {
		return nil, err
	}
	tok, err := c.token(&v.profile)
	if err != nil {
		return nil, tr.Fail("decode", "", err)
	}
	tok.SigningKeyID = j.Kid
	return tok, nil
}

// verifySignature checks the token's signature and returns the issuer key
// that verified it (the zero PublicKey for an HMAC secret, or when the
// caller lacks the issuer keys).
func (v *JWTVerifier) verifySignature(ctx context.Context, j *jose.JWS) (PublicKey, error) {
	tr := v.tr
	if h, ok := jose.HMACHash(j.Alg); ok {
		if v.hmac == nil || !slices.Contains(v.hmacAlgs, j.Alg) {
			err := tokenErr(popguard.ReasonTokenAlg, "The access token alg is not allowed", nil)
			if tr != nil {
				tr.Fail("alg", fmt.Sprintf("%q (HMAC algorithms allowed: %s)", j.Alg, quoteList(v.hmacAlgs)), err)
			}
			return PublicKey{}, err
		}
		tr.Pass("alg", j.Alg)
		if err := jose.VerifyHMAC(h, v.hmac, j.SigningInput, j.Signature); err != nil {
			return PublicKey{}, tr.Fail("signature", j.Alg, tokenErr(popguard.ReasonTokenSignature, "The access token signature is invalid", err))
		}
		tr.Pass("signature", j.Alg)
		return PublicKey{}, nil
	}
	alg, ok := v.algs[j.Alg]
	if !ok {
		err := tokenErr(popguard.ReasonTokenAlg, "The access token alg is not allowed", nil)
		if tr != nil {
			allowed := slices.Sorted(maps.Keys(v.algs))
			tr.Fail("alg", fmt.Sprintf("%q (allowed: %s)", j.Alg, quoteList(allowed)), err)
		}
		return PublicKey{}, err
	}
	tr.Pass("alg", j.Alg)
	if v.lacks(trace.IssuerKeys) {
		if tr != nil {
			v.unknown("keyset", "kid "+strconv.Quote(j.Kid), "issuer keys")
			v.unknown("signature", j.Alg, "issuer keys")
		}
		return PublicKey{}, nil
	}
	keys, err := v.keys.Keys(ctx, j.Kid)
	if err != nil {
		var pe *popguard.Error
		if !errors.As(err, &pe) {
			pe = popguard.NewError(popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable, "The issuer keys are not available", err)
		}
		if tr != nil {
			tr.Fail("keyset", "kid "+strconv.Quote(j.Kid), pe)
		}
		return PublicKey{}, pe
	}
	if tr != nil {
		tr.Pass("keyset", fmt.Sprintf("kid %q: %d key(s)", j.Kid, len(keys)))
	}
	tried := 0
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != j.Alg && !(isEdDSA(k.Algorithm) && isEdDSA(j.Alg)) {
			continue
		}
		pk, err := jose.FromCrypto(k.Key)
		if err != nil || !alg.Fits(pk) {
			continue
		}
		tried++
		if jose.Verify(alg, pk, j.SigningInput, j.Signature) == nil {
			if tr != nil {
				tr.Pass("signature", fmt.Sprintf("%s signature verifies with issuer key %q", j.Alg, k.KeyID))
			}
			return k, nil
		}
	}
	if tried == 0 {
		err := tokenErr(popguard.ReasonTokenUnknownKey, "No issuer key matches the access token", ErrUnknownKey)
		if tr != nil {
			tr.Fail("signature", fmt.Sprintf("no issuer key fits kid %q and alg %s", j.Kid, j.Alg), err)
		}
		return PublicKey{}, err
	}
	err = tokenErr(popguard.ReasonTokenSignature, "The access token signature is invalid", nil)
	if tr != nil {
		tr.Fail("signature", fmt.Sprintf("%s: does not verify with the %d issuer key(s) that fit", j.Alg, tried), err)
	}
	return PublicKey{}, err
}

func isEdDSA(a string) bool { return a == "EdDSA" || a == "Ed25519" }

func (v *JWTVerifier) checkClaims(c *tokenClaims) error {
	tr := v.tr
	required := v.profile.Required
	for _, name := range required {
		if !c.present[name] {
			err := tokenErr(popguard.ReasonTokenClaims, "The access token lacks a required claim", nil)
			if tr != nil {
				tr.Fail("claims", "no "+name+" (required: "+strings.Join(required, ", ")+")", err)
			}
			return err
		}
	}
	if any := v.profile.RequiredAny; len(any) > 0 && !slices.ContainsFunc(any, func(n string) bool { return c.present[n] }) {
		err := tokenErr(popguard.ReasonTokenClaims, "The access token lacks a required claim", nil)
		if tr != nil {
			tr.Fail("claims", "none of "+strings.Join(any, ", "), err)
		}
		return err
	}
	for _, m := range c.members {
		allowed, ok := v.profile.ClaimValues[m.Name]
		if !ok {
			continue
		}
		if s, isStr := jose.String(m.Value); !isStr || !slices.Contains(allowed, s) {
			err := tokenErr(popguard.ReasonTokenType, "The access token claim "+m.Name+" marks another kind of token", nil)
			if tr != nil {
				tr.Fail("typ", "claim "+m.Name+" is not one of "+quoteList(allowed), err)
			}
			return err
		}
	}
	for name := range v.profile.ClaimValues {
		if !c.present[name] {
			err := tokenErr(popguard.ReasonTokenType, "The access token lacks the claim "+name+" that marks access tokens", nil)
			if tr != nil {
				tr.Fail("typ", "no claim "+name, err)
			}
			return err
		}
	}
	if tr != nil {
		tr.Pass("claims", strings.Join(required, ", "))
	}
	want, err := v.expectedIssuer(c)
	if err != nil {
		if tr != nil {
			tr.Fail("iss", strconv.Quote(c.iss)+", tenant "+strconv.Quote(c.tenant), err)
		}
		return err
	}
	if err := v.match("iss", trace.Issuer, "trusted issuer", c.iss, want, func() error {
		return tokenErr(popguard.ReasonTokenIssuer, "The access token issuer is not trusted", nil)
	}); err != nil {
		return err
	}
	if !v.anyAud {
		ok := false
		for _, a := range c.aud {
			if slices.Contains(v.audiences, a) {
				ok = true
				break
			}
		}
		if !ok {
			err := tokenErr(popguard.ReasonTokenAudience, "The access token is not meant for this resource", nil)
			if tr != nil {
				tr.Fail("aud", quoteList(c.aud)+", this resource: "+quoteList(v.audiences), err)
			}
			return err
		}
		if tr != nil {
			tr.Pass("aud", quoteList(c.aud))
		}
	} else if tr != nil {
		tr.Skip("aud", quoteList(c.aud)+"; any audience accepted")
	}
	now := v.now()
	if c.present["exp"] && !now.Before(floatTime(c.exp).Add(v.leeway)) {
		return v.failTime("exp", c.exp, now, tokenErr(popguard.ReasonTokenExpired, "The access token expired", nil))
	}
	v.passTime("exp", c.present["exp"], c.exp, now)
	if c.present["nbf"] && now.Add(v.leeway).Before(floatTime(c.nbf)) {
		return v.failTime("nbf", c.nbf, now, tokenErr(popguard.ReasonTokenNotYetValid, "The access token is not valid yet", nil))
	}
	v.passTime("nbf", c.present["nbf"], c.nbf, now)
	if c.present["iat"] && now.Add(v.leeway).Before(floatTime(c.iat)) {
		return v.failTime("iat", c.iat, now, tokenErr(popguard.ReasonTokenIssuedAt, "The access token was issued in the future", nil))
	}
	v.passTime("iat", c.present["iat"], c.iat, now)
	return nil
}

// failTime reports a failed time claim check and returns err.
func (v *JWTVerifier) failTime(check string, t float64, now time.Time, err error) error {
	if v.tr != nil {
		v.tr.Fail(check, timeValue(floatTime(t), now)+" (leeway "+v.leeway.String()+")", err)
	}
	return err
}

// passTime reports a time claim check that passed, or was skipped for an
// absent claim.
func (v *JWTVerifier) passTime(check string, present bool, t float64, now time.Time) {
	switch {
	case v.tr == nil:
	case present:
		v.tr.Pass(check, timeValue(floatTime(t), now))
	default:
		v.tr.Skip(check, "absent")
	}
}

// cnfValue describes a token's binding (for tracing).
func cnfValue(c Confirmation) string {
	switch {
	case c.JKT != "":
		return "DPoP-bound: jkt " + c.JKT
	case c.KID != "" && c.JWK != nil:
		return "PoP-bound: jwk, kid " + c.KID
	case c.KID != "":
		return "PoP-bound: kid " + c.KID + " (thumbprint of the SHR's cnf.jwk)"
	case c.JWK != nil:
		return "PoP-bound: jwk"
	case c.JKU != "":
		return "bound by jku " + c.JKU + " (never dereferenced)"
	case c.JWE != nil:
		return "bound to an encrypted symmetric key (jwe)"
	case c.X5tS256 != "":
		return "mTLS-bound: x5t#S256 " + c.X5tS256
	}
	return "absent: an unbound (Bearer) token"
}

// tokenClaims holds the registered claims of an access token.
type tokenClaims struct {
	members       []jose.Member
	iss, sub, jti string
	aud           []string
	exp, nbf, iat float64
	cnf           Confirmation
	present       map[string]bool
	// ver and tenant are the "ver" claim and the profile's tenant claim,
	// when they are strings.
	ver, tenant string
	// failed names the claim read refused (for tracing).
	failed string
}

// read reads the registered claims, with their types. tenantClaim names the
// profile's tenant claim (may be empty).
func (c *tokenClaims) read(members []jose.Member, tenantClaim string) error {
	c.members = members
	c.present = make(map[string]bool, len(members))
	for _, m := range members {
		c.present[m.Name] = true
		ok := true
		switch m.Name {
		case "iss":
			c.iss, ok = jose.String(m.Value)
		case "sub":
			c.sub, ok = jose.String(m.Value)
		case "jti":
			c.jti, ok = jose.String(m.Value)
		case "ver":
			c.ver, _ = jose.String(m.Value)
		case "aud":
			if s, isStr := jose.String(m.Value); isStr {
				c.aud = []string{s}
			} else {
				c.aud, ok = jose.StringArray(m.Value)
			}
		case "exp":
			c.exp, ok = numericDate(m.Value)
		case "nbf":
			c.nbf, ok = numericDate(m.Value)
		case "iat":
			c.iat, ok = numericDate(m.Value)
		case "cnf":
			var err error
			if c.cnf, err = parseCnf(m.Value); err != nil {
				c.failed = m.Name
				return err
			}
		}
		if tenantClaim != "" && m.Name == tenantClaim {
			c.tenant, ok = jose.String(m.Value)
		}
		if !ok {
			c.failed = m.Name
			return tokenErr(popguard.ReasonTokenClaims, "The access token claim "+m.Name+" has the wrong type", nil)
		}
	}
	return nil
}

// token decodes every claim and reads scopes, roles and the client where
// the profile says they are.
func (c *tokenClaims) token(p *Profile) (*Token, error) {
	claims := make(map[string]any, len(c.members))
	for _, m := range c.members {
		var v any
		if err := json.Unmarshal(m.Value, &v); err != nil {
			return nil, tokenErr(popguard.ReasonTokenMalformed, "The access token claims are not valid JSON", err)
		}
		claims[m.Name] = v
	}
	t := &Token{
		Issuer: c.iss, Subject: c.sub, Audience: c.aud, ID: c.jti, Tenant: c.tenant,
		Cnf: c.cnf, Claims: claims,
	}
	if err := p.apply(t); err != nil {
		return nil, err
	}
	if c.present["exp"] {
		t.Expiry = floatTime(c.exp)
	}
	if c.present["iat"] {
		t.IssuedAt = floatTime(c.iat)
	}
	if c.present["nbf"] {
		t.NotBefore = floatTime(c.nbf)
	}
	return t, nil
}

// numericDate reads an RFC 7519 NumericDate: a JSON number (not a string),
// non-negative and below 1e11 (year 5138), so converting it to a time can
// neither overflow nor wrap.
func numericDate(raw []byte) (float64, bool) {
	f, ok := jose.Number(raw)
	return f, ok && f >= 0 && f < 1e11
}
