package validate

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
)

// DefaultTokenAlgs returns a copy of the default allow-list for access-token
// signatures.
func DefaultTokenAlgs() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// Defaults of NewJWTVerifier.
const (
	DefaultLeeway       = 30 * time.Second
	DefaultMaxTokenSize = 16384
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
	acceptJWT bool
	required  []string
	leeway    time.Duration
	maxSize   int
	now       func() time.Time
}

var rfc9068Claims = []string{"iss", "exp", "aud", "sub", "client_id", "iat", "jti"}

// NewJWTVerifier returns a verifier for access tokens issued by issuer (an
// exact string match with iss) and signed by a key in keys.
func NewJWTVerifier(issuer string, keys KeySet, opts ...Option) (*JWTVerifier, error) {
	if issuer == "" {
		return nil, errors.New("validate: issuer is required")
	}
	if keys == nil {
		return nil, errors.New("validate: a key set is required")
	}
	v := &JWTVerifier{issuer: issuer, keys: keys, leeway: DefaultLeeway, maxSize: DefaultMaxTokenSize, now: time.Now}
	if err := Algs(DefaultTokenAlgs()...).jwt(v); err != nil {
		return nil, err
	}
	if err := applyJWT(opts, v); err != nil {
		return nil, err
	}
	if v.required == nil {
		v.required = rfc9068Claims
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
	j, err := jose.ParseCompact(token, v.maxSize)
	if err != nil {
		return nil, tokenErr(popguard.ReasonTokenMalformed, "The access token is not a well-formed JWT", err)
	}
	// RFC 9068 §4 step 1: typ. This also stops DPoP proofs, SHRs and ID
	// tokens from being used as access tokens.
	switch {
	case j.Typ == "at+jwt" || j.Typ == "application/at+jwt":
	case v.acceptJWT && (!j.HasTyp || j.Typ == "JWT"):
	default:
		return nil, tokenErr(popguard.ReasonTokenType, "The access token typ is not at+jwt", nil)
	}
	if j.JWK != nil || j.HeaderHas("jku") || j.HeaderHas("x5u") {
		// RFC 9068 §4: use only the keys of the authorization server.
		return nil, tokenErr(popguard.ReasonTokenKey, "The access token names its own key", nil)
	}
	var c tokenClaims
	if err := c.read(j.Payload); err != nil {
		return nil, err
	}
	// Claims before the signature: they are cheap and may save a key fetch.
	if err := v.checkClaims(&c); err != nil {
		return nil, err
	}
	if err := v.verifySignature(ctx, j); err != nil {
		return nil, err
	}
	tok, err := c.token()
	if err != nil {
		return nil, err
	}
	tok.SigningKeyID = j.Kid
	return tok, nil
}

func (v *JWTVerifier) verifySignature(ctx context.Context, j *jose.JWS) error {
	if h, ok := jose.HMACHash(j.Alg); ok {
		if v.hmac == nil || !slices.Contains(v.hmacAlgs, j.Alg) {
			return tokenErr(popguard.ReasonTokenAlg, "The access token alg is not allowed", nil)
		}
		if err := jose.VerifyHMAC(h, v.hmac, j.SigningInput, j.Signature); err != nil {
			return tokenErr(popguard.ReasonTokenSignature, "The access token signature is invalid", err)
		}
		return nil
	}
	alg, ok := v.algs[j.Alg]
	if !ok {
		return tokenErr(popguard.ReasonTokenAlg, "The access token alg is not allowed", nil)
	}
	keys, err := v.keys.Keys(ctx, j.Kid)
	if err != nil {
		var pe *popguard.Error
		if errors.As(err, &pe) {
			return pe
		}
		return popguard.NewError(popguard.CodeTemporarilyUnavailable, popguard.ReasonKeySet, "The issuer keys are not available", err)
	}
	tried := false
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != j.Alg && !(isEdDSA(k.Algorithm) && isEdDSA(j.Alg)) {
			continue
		}
		pk, err := jose.FromCrypto(k.Key)
		if err != nil || !alg.Fits(pk) {
			continue
		}
		tried = true
		if jose.Verify(alg, pk, j.SigningInput, j.Signature) == nil {
			return nil
		}
	}
	if !tried {
		return tokenErr(popguard.ReasonTokenKey, "No issuer key matches the access token", ErrUnknownKey)
	}
	return tokenErr(popguard.ReasonTokenSignature, "The access token signature is invalid", nil)
}

func isEdDSA(a string) bool { return a == "EdDSA" || a == "Ed25519" }

func (v *JWTVerifier) checkClaims(c *tokenClaims) error {
	for _, name := range v.required {
		if !c.present[name] {
			return tokenErr(popguard.ReasonTokenClaims, "The access token lacks a required claim", nil)
		}
	}
	if c.iss != v.issuer {
		return tokenErr(popguard.ReasonTokenIssuer, "The access token issuer is not trusted", nil)
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
			return tokenErr(popguard.ReasonTokenAudience, "The access token is not meant for this resource", nil)
		}
	}
	now := v.now()
	if c.present["exp"] && !now.Before(floatTime(c.exp).Add(v.leeway)) {
		return tokenErr(popguard.ReasonTokenExpired, "The access token expired", nil)
	}
	if c.present["nbf"] && now.Add(v.leeway).Before(floatTime(c.nbf)) {
		return tokenErr(popguard.ReasonTokenNotYetValid, "The access token is not valid yet", nil)
	}
	if c.present["iat"] && now.Add(v.leeway).Before(floatTime(c.iat)) {
		return tokenErr(popguard.ReasonTokenIssuedAt, "The access token was issued in the future", nil)
	}
	return nil
}

// tokenClaims holds the registered claims of an access token.
type tokenClaims struct {
	members            []jose.Member
	iss, sub, cid, jti string
	aud                []string
	scope              []string
	exp, nbf, iat      float64
	cnf                Confirmation
	present            map[string]bool
}

func (c *tokenClaims) read(members []jose.Member) error {
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
		case "client_id":
			c.cid, ok = jose.String(m.Value)
		case "azp", "appid":
			if c.cid == "" {
				c.cid, _ = jose.String(m.Value)
			}
		case "jti":
			c.jti, ok = jose.String(m.Value)
		case "aud":
			if s, isStr := jose.String(m.Value); isStr {
				c.aud = []string{s}
			} else {
				c.aud, ok = jose.StringArray(m.Value)
			}
		case "scope":
			var s string
			s, ok = jose.String(m.Value)
			c.scope = append(c.scope, splitScope(s)...)
		case "scp":
			if s, isStr := jose.String(m.Value); isStr {
				c.scope = append(c.scope, splitScope(s)...)
			} else {
				var arr []string
				arr, ok = jose.StringArray(m.Value)
				c.scope = append(c.scope, arr...)
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
				return err
			}
		}
		if !ok {
			return tokenErr(popguard.ReasonTokenClaims, "The access token claim "+m.Name+" has the wrong type", nil)
		}
	}
	return nil
}

func (c *tokenClaims) token() (*Token, error) {
	claims := make(map[string]any, len(c.members))
	for _, m := range c.members {
		var v any
		if err := json.Unmarshal(m.Value, &v); err != nil {
			return nil, tokenErr(popguard.ReasonTokenMalformed, "The access token claims are not valid JSON", err)
		}
		claims[m.Name] = v
	}
	t := &Token{
		Issuer: c.iss, Subject: c.sub, ClientID: c.cid, Audience: c.aud, Scopes: c.scope, ID: c.jti,
		Cnf: c.cnf, Claims: claims,
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
