package validate_test

import (
	"context"
	"crypto/hmac"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// Tests for RFC 9068 §4 JWT access-token validation (steps 1 to 9) and
// token confusion: a DPoP proof, an SHR or an ID token used as an access
// token (RFC 9068 §4 step 1, RFC 8725 §3.11).

const (
	jtIssuer   = "https://as.example.com"
	jtAudience = "https://rs.example.com"
)

var jtB64 = base64.RawURLEncoding

// jtRSAKey is one 2048-bit RSA key shared by the tests (key generation is
// slow under -race).
var jtRSAKey = sync.OnceValue(func() *jwsKey { return newJWSKey("RS256") })

// maxTokenSize is the documented default of validate.MaxSize for a JWTVerifier.
const maxTokenSize = 16384

// jtWithAlg returns k signing under another algorithm of the same family.
func jtWithAlg(k *jwsKey, alg string) *jwsKey { return &jwsKey{Alg: alg, Signer: k.Signer} }

// jtFixture is an issuer with a static key set and a fixed clock.
type jtFixture struct {
	iss  *jwsIssuer
	keys *validate.StaticKeySet
	now  time.Time
}

func newJTFixture(t *testing.T) *jtFixture {
	t.Helper()
	iss := newJWSIssuer(jtIssuer)
	keys, err := validate.NewStaticKeySet(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	return &jtFixture{iss: iss, keys: keys, now: time.Unix(1_750_000_000, 0)}
}

func (f *jtFixture) clock() time.Time { return f.now }

// verifier returns a verifier for the fixture's issuer and audience, on the
// fixture's clock, with opts appended.
func (f *jtFixture) verifier(t *testing.T, opts ...validate.Option) *validate.JWTVerifier {
	t.Helper()
	all := append([]validate.Option{validate.Audience(jtAudience), validate.Clock(f.clock)}, opts...)
	v, err := validate.NewJWTVerifier(jtIssuer, f.keys, all...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claims returns a complete RFC 9068 claim set valid at f.now, with set
// applied (a nil value deletes the claim).
func (f *jtFixture) claims(set map[string]any) map[string]any {
	c := map[string]any{
		"iss": jtIssuer, "sub": "alice", "aud": jtAudience, "client_id": "client-1",
		"iat": f.now.Unix(), "exp": f.now.Add(5 * time.Minute).Unix(), "jti": "jti-1",
	}
	return jtMerge(c, set)
}

// header returns the issuer's default header (typ at+jwt, kid) with set
// applied (a nil value deletes the member).
func (f *jtFixture) header(set map[string]any) map[string]any {
	return jtMerge(map[string]any{"typ": "at+jwt", "kid": f.iss.KID}, set)
}

func jtMerge(base, set map[string]any) map[string]any {
	for k, v := range set {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	return base
}

// sign signs claims with the issuer key under its default header + hdr.
func (f *jtFixture) sign(t *testing.T, hdr, claims map[string]any) string {
	t.Helper()
	return jtSign(t, f.iss.Key, f.header(hdr), claims)
}

func jtSign(t *testing.T, k *jwsKey, hdr, claims map[string]any) string {
	t.Helper()
	tok, err := k.JWS(hdr, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func jtSignRaw(t *testing.T, k *jwsKey, hdr, payload string) string {
	t.Helper()
	tok, err := k.SignRaw([]byte(hdr), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// jtHMAC returns a compact JWS MACed with secret under alg.
func jtHMAC(t *testing.T, alg string, secret []byte, hdr, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg}
	for k, v := range hdr {
		h[k] = v
	}
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := jtB64.EncodeToString(hj) + "." + jtB64.EncodeToString(cj)
	hf, ok := jose.HMACHash(alg)
	if !ok {
		t.Fatalf("not an HMAC alg %q", alg)
	}
	m := hmac.New(hf.New, secret)
	m.Write([]byte(input))
	return input + "." + jtB64.EncodeToString(m.Sum(nil))
}

// jtWant asserts that err is a *popguard.Error with code and reason.
func jtWant(t *testing.T, err error, code popguard.ErrorCode, reason popguard.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%s)", code, reason)
	}
	var pe *popguard.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %q (%T) is not a *popguard.Error", err, err)
	}
	if pe.Code != code || pe.Reason != reason {
		t.Fatalf("got %s (%s) [%v], want %s (%s)", pe.Code, pe.Reason, err, code, reason)
	}
	if pe.Description == "" {
		t.Errorf("error %v has no description", err)
	}
}

// jtReject asserts an invalid_token rejection with reason.
func jtReject(t *testing.T, err error, reason popguard.Reason) {
	t.Helper()
	jtWant(t, err, popguard.CodeInvalidToken, reason)
}

func jtVerify(t *testing.T, v *validate.JWTVerifier, token string) (*validate.Token, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := v.VerifyToken(ctx, token)
	if err == nil && tok == nil {
		t.Fatal("VerifyToken returned neither a token nor an error")
	}
	// A traced copy (popctl inspect) reports this very verdict.
	traceAgrees(t, func(tr trace.Tracer) error {
		_, err := trace.With(v, trace.Options{Tracer: tr}).VerifyToken(ctx, token)
		return err
	})
	if err != nil && tok != nil {
		t.Fatalf("VerifyToken returned a token with error %v", err)
	}
	return tok, err
}

func jtAccept(t *testing.T, v *validate.JWTVerifier, token string) *validate.Token {
	t.Helper()
	tok, err := jtVerify(t, v, token)
	if err != nil {
		t.Fatalf("VerifyToken: %v", err)
	}
	return tok
}

func TestJWTValidTokenFields(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)
	if v.Issuer() != jtIssuer {
		t.Errorf("Issuer() = %q", v.Issuer())
	}
	dpopKey := poptest.NewClient()
	iat := f.now.Add(-time.Minute)
	at := f.sign(t, nil, map[string]any{
		"iss": jtIssuer, "sub": "alice", "aud": jtAudience, "client_id": "client-1", "scope": "read  write",
		"iat": iat.Unix(), "exp": iat.Add(10 * time.Minute).Unix(), "jti": jwsRandomID(),
		"cnf":   map[string]any{"jkt": dpopKey.Thumbprint()},
		"roles": []string{"r1", "r2"}, "nbf": iat.Unix(),
	})
	tok := jtAccept(t, v, at)
	if tok.Issuer != jtIssuer || tok.Subject != "alice" || tok.ClientID != "client-1" {
		t.Errorf("iss/sub/client_id = %q %q %q", tok.Issuer, tok.Subject, tok.ClientID)
	}
	if !slices.Equal(tok.Audience, []string{jtAudience}) {
		t.Errorf("Audience = %q", tok.Audience)
	}
	if !slices.Equal(tok.Scopes, []string{"read", "write"}) {
		t.Errorf("Scopes = %q", tok.Scopes)
	}
	if want := f.now.Add(9 * time.Minute); !tok.Expiry.Equal(want) {
		t.Errorf("Expiry = %v, want %v", tok.Expiry, want)
	}
	if want := f.now.Add(-time.Minute); !tok.IssuedAt.Equal(want) || !tok.NotBefore.Equal(want) {
		t.Errorf("IssuedAt, NotBefore = %v, %v, want %v", tok.IssuedAt, tok.NotBefore, want)
	}
	if tok.ID == "" || tok.ID != tok.Claims["jti"] {
		t.Errorf("ID = %q, claims jti = %v", tok.ID, tok.Claims["jti"])
	}
	if tok.SigningKeyID != f.iss.KID {
		t.Errorf("SigningKeyID = %q, want %q", tok.SigningKeyID, f.iss.KID)
	}
	if tok.Cnf.JKT != dpopKey.Thumbprint() || !tok.Cnf.Bound() {
		t.Errorf("Cnf = %+v, want jkt %s", tok.Cnf, dpopKey.Thumbprint())
	}
	if got, ok := tok.Claims["roles"].([]any); !ok || len(got) != 2 || got[0] != "r1" {
		t.Errorf("Claims[roles] = %#v", tok.Claims["roles"])
	}
	if got, ok := tok.Claims["exp"].(float64); !ok || int64(got) != f.now.Add(9*time.Minute).Unix() {
		t.Errorf("Claims[exp] = %#v", tok.Claims["exp"])
	}
	if got, ok := tok.Claims["cnf"].(map[string]any); !ok || got["jkt"] != dpopKey.Thumbprint() {
		t.Errorf("Claims[cnf] = %#v", tok.Claims["cnf"])
	}
	for _, name := range []string{"iss", "sub", "aud", "client_id", "iat", "exp", "jti", "scope", "nbf"} {
		if _, ok := tok.Claims[name]; !ok {
			t.Errorf("Claims lacks %q", name)
		}
	}

	// scp is a profile's scope claim (Entra ID, Okta), not RFC 9068's.
	scp := validate.RFC9068()
	scp.ScopeClaims = []string{"scope", "scp"}
	v = f.verifier(t, validate.UseProfile(scp))
	t.Run("scp ignored by RFC 9068", func(t *testing.T) {
		tok := jtAccept(t, f.verifier(t), f.sign(t, nil, f.claims(map[string]any{"scp": "x y"})))
		if len(tok.Scopes) != 0 {
			t.Errorf("Scopes = %q", tok.Scopes)
		}
	})
	t.Run("scp array", func(t *testing.T) {
		tok := jtAccept(t, v, f.sign(t, nil, f.claims(map[string]any{"scp": []string{"a", "b:c"}})))
		if !slices.Equal(tok.Scopes, []string{"a", "b:c"}) {
			t.Errorf("Scopes = %q", tok.Scopes)
		}
		if tok.Cnf.Bound() {
			t.Errorf("unbound token has Cnf %+v", tok.Cnf)
		}
	})
	t.Run("scp string", func(t *testing.T) {
		tok := jtAccept(t, v, f.sign(t, nil, f.claims(map[string]any{"scp": "x y"})))
		if !slices.Equal(tok.Scopes, []string{"x", "y"}) {
			t.Errorf("Scopes = %q", tok.Scopes)
		}
	})
	t.Run("scope and scp", func(t *testing.T) {
		tok := jtAccept(t, v, f.sign(t, nil, f.claims(map[string]any{"scope": "a b", "scp": []string{"c"}})))
		got := slices.Clone(tok.Scopes)
		slices.Sort(got)
		if !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Errorf("Scopes = %q", tok.Scopes)
		}
	})
	t.Run("no scope", func(t *testing.T) {
		tok := jtAccept(t, v, f.sign(t, nil, f.claims(nil)))
		if len(tok.Scopes) != 0 {
			t.Errorf("Scopes = %q", tok.Scopes)
		}
	})
	t.Run("fractional dates", func(t *testing.T) {
		exp := float64(f.now.Unix()) + 0.5
		tok := jtAccept(t, v, f.sign(t, nil, f.claims(map[string]any{"exp": exp})))
		if want := f.now.Add(500 * time.Millisecond); !tok.Expiry.Equal(want) {
			t.Errorf("Expiry = %v, want %v", tok.Expiry, want)
		}
	})
	t.Run("no kid", func(t *testing.T) {
		tok := jtAccept(t, v, f.sign(t, map[string]any{"kid": nil}, f.claims(nil)))
		if tok.SigningKeyID != "" {
			t.Errorf("SigningKeyID = %q", tok.SigningKeyID)
		}
	})
}

func TestJWTTokenType(t *testing.T) {
	f := newJTFixture(t)
	strict := f.verifier(t)
	relaxed := f.verifier(t, validate.UseProfile(jtRelaxedProfile()))
	// Media types compare case-insensitively, with or without the
	// "application/" prefix (RFC 7515 §4.1.9).
	cases := []struct {
		typ           any // nil: no typ header
		strict, relax bool
	}{
		{"at+jwt", true, true},
		{"application/at+jwt", true, true},
		{"AT+JWT", true, true},
		{"Application/At+Jwt", true, true},
		{nil, false, true},
		{"JWT", false, true},
		{"jwt", false, true},
		{"application/jwt", false, true},
		{"dpop+jwt", false, false},
		{"pop", false, false},
		{"at+jwt ", false, false},
		{"application/", false, false},
		{"x-application/at+jwt", false, false},
		{"", false, false},
		{"id_token+jwt", false, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v", c.typ), func(t *testing.T) {
			hdr := map[string]any{"typ": c.typ}
			tok := f.sign(t, hdr, f.claims(nil))
			for _, vc := range []struct {
				name string
				v    *validate.JWTVerifier
				ok   bool
			}{{"strict", strict, c.strict}, {"relaxed profile", relaxed, c.relax}} {
				_, err := jtVerify(t, vc.v, tok)
				if vc.ok {
					if err != nil {
						t.Errorf("%s: %v", vc.name, err)
					}
					continue
				}
				jtReject(t, err, popguard.ReasonTokenType)
			}
		})
	}

	t.Run("typ not a string", func(t *testing.T) {
		_, err := jtVerify(t, relaxed, f.sign(t, map[string]any{"typ": 1}, f.claims(nil)))
		jtReject(t, err, popguard.ReasonTokenMalformed)
	})

	// RFC 9449 §7.1 / conformance §7.4: a DPoP proof as the access token.
	t.Run("DPoP proof as access token", func(t *testing.T) {
		proof := poptest.NewClient().Proof("GET", jtAudience+"/resource", "", poptest.ProofOptions{IssuedAt: f.now})
		for _, v := range []*validate.JWTVerifier{strict, relaxed} {
			_, err := jtVerify(t, v, proof)
			jtReject(t, err, popguard.ReasonTokenType)
		}
		// Even signed by the issuer key and carrying every claim.
		_, err := jtVerify(t, relaxed, f.sign(t, map[string]any{"typ": "dpop+jwt", "jwk": f.iss.Key.PublicJWK(nil)}, f.claims(nil)))
		jtReject(t, err, popguard.ReasonTokenType)
	})

	t.Run("a profile relaxes client_id and jti", func(t *testing.T) {
		entra := f.claims(map[string]any{"client_id": nil, "jti": nil, "azp": "app-1"})
		for _, typ := range []any{"JWT", nil, "at+jwt"} {
			tok := jtAccept(t, relaxed, f.sign(t, map[string]any{"typ": typ}, entra))
			if tok.ClientID != "app-1" {
				t.Errorf("typ %v: ClientID = %q, want azp", typ, tok.ClientID)
			}
		}
		appid := f.claims(map[string]any{"client_id": nil, "jti": nil, "appid": "app-2"})
		if tok := jtAccept(t, relaxed, f.sign(t, map[string]any{"typ": "JWT"}, appid)); tok.ClientID != "app-2" {
			t.Errorf("ClientID = %q, want appid", tok.ClientID)
		}
		// The strict verifier still requires them.
		_, err := jtVerify(t, strict, f.sign(t, nil, entra))
		jtReject(t, err, popguard.ReasonTokenClaims)
		// client_id wins over azp (marshalled first).
		both := f.claims(map[string]any{"azp": "app-1"})
		if tok := jtAccept(t, strict, f.sign(t, nil, both)); tok.ClientID != "client-1" {
			t.Errorf("ClientID = %q, want client_id", tok.ClientID)
		}
		// The relaxed set still needs iss, sub, aud, exp, iat.
		for _, name := range []string{"iss", "sub", "aud", "exp", "iat"} {
			_, err := jtVerify(t, relaxed, f.sign(t, map[string]any{"typ": "JWT"}, f.claims(map[string]any{name: nil})))
			jtReject(t, err, popguard.ReasonTokenClaims)
		}
		// The profile's required claims are what is required.
		p := jtRelaxedProfile()
		p.Required = []string{"iss", "aud", "exp", "jti"}
		_, err = jtVerify(t, f.verifier(t, validate.UseProfile(p)), f.sign(t, map[string]any{"typ": "JWT"}, entra))
		jtReject(t, err, popguard.ReasonTokenClaims)
	})
}

// jtRelaxedProfile accepts typ JWT or none and finds the client in
// client_id, azp or appid.
func jtRelaxedProfile() validate.Profile {
	p := validate.RFC9068()
	p.Name = "relaxed"
	p.Types = []string{"at+jwt", "JWT", ""}
	p.Required = []string{"iss", "sub", "aud", "exp", "iat"}
	p.ClientClaims = []string{"client_id", "azp", "appid"}
	return p
}

func TestJWTTokenAlg(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)
	claims := f.claims(nil)

	t.Run("none with empty signature", func(t *testing.T) {
		hj, _ := json.Marshal(map[string]any{"alg": "none", "typ": "at+jwt", "kid": f.iss.KID})
		cj, _ := json.Marshal(claims)
		tok := jtB64.EncodeToString(hj) + "." + jtB64.EncodeToString(cj) + "."
		_, err := jtVerify(t, v, tok)
		// The strict compact parser refuses the empty third segment of an
		// unsecured JWS (RFC 7519 §6.1) before alg is looked at.
		jtReject(t, err, popguard.ReasonTokenMalformed)
	})
	for _, alg := range []string{"none", "None", "NONE", "XS256", "ES256K", "RSA-OAEP", "es256", "HS1", "EdDSA25519"} {
		t.Run("alg "+alg, func(t *testing.T) {
			tok := f.sign(t, map[string]any{"alg": alg}, claims)
			_, err := jtVerify(t, v, tok)
			jtReject(t, err, popguard.ReasonTokenAlg)
		})
	}
	t.Run("alg empty or not a string", func(t *testing.T) {
		for _, alg := range []any{"", 256, []string{"ES256"}} {
			_, err := jtVerify(t, v, f.sign(t, map[string]any{"alg": alg}, claims))
			jtReject(t, err, popguard.ReasonTokenMalformed)
		}
	})

	// RFC 8725 §2.1 / conformance §7.1: HS256 keyed with the public key.
	t.Run("HMAC keyed with the issuer public key", func(t *testing.T) {
		pubJWK, _ := json.Marshal(f.iss.Key.PublicJWK(nil))
		pubJWKkid, _ := json.Marshal(f.iss.Key.PublicJWK(map[string]any{"kid": f.iss.KID, "alg": "ES256", "use": "sig"}))
		rsaPub := jtRSAKey().Signer.Public()
		der, _ := x509.MarshalPKIXPublicKey(rsaPub)
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		secrets := [][]byte{pubJWK, pubJWKkid, f.iss.JWKS(), pemKey, der, []byte(jtB64.EncodeToString(der))}
		rsaKeys, err := validate.StaticKeys(validate.PublicKey{KeyID: "r1", Key: rsaPub})
		if err != nil {
			t.Fatal(err)
		}
		rsaV, err := validate.NewJWTVerifier(jtIssuer, rsaKeys, validate.Audience(jtAudience), validate.Clock(f.clock))
		if err != nil {
			t.Fatal(err)
		}
		withSecret := f.verifier(t, validate.HMACSecret([]byte(strings.Repeat("s", 32)), "HS256", "HS384", "HS512"))
		for i, secret := range secrets {
			for _, alg := range []string{"HS256", "HS384", "HS512"} {
				tok := jtHMAC(t, alg, secret, map[string]any{"typ": "at+jwt", "kid": f.iss.KID}, claims)
				_, err := jtVerify(t, v, tok)
				jtReject(t, err, popguard.ReasonTokenAlg)
				_, err = jtVerify(t, rsaV, tok)
				jtReject(t, err, popguard.ReasonTokenAlg)
				// With a shared secret configured, the public key is still
				// never used as the MAC key.
				_, err = jtVerify(t, withSecret, tok)
				if err == nil {
					t.Fatalf("secret %d %s: token MACed with a public key accepted", i, alg)
				}
				jtReject(t, err, popguard.ReasonTokenSignature)
			}
		}
	})

	t.Run("HMACSecret", func(t *testing.T) {
		secret := []byte("0123456789abcdef0123456789abcdef")
		hv := f.verifier(t, validate.HMACSecret(secret))
		hdr := map[string]any{"typ": "at+jwt"}
		tok := jtAccept(t, hv, jtHMAC(t, "HS256", secret, hdr, claims))
		if tok.Subject != "alice" {
			t.Errorf("Subject = %q", tok.Subject)
		}
		_, err := jtVerify(t, hv, jtHMAC(t, "HS256", []byte("0123456789abcdef0123456789abcdeF"), hdr, claims))
		jtReject(t, err, popguard.ReasonTokenSignature)
		// Only the configured HMAC algorithms.
		_, err = jtVerify(t, hv, jtHMAC(t, "HS512", secret, hdr, claims))
		jtReject(t, err, popguard.ReasonTokenAlg)
		// Without HMACSecret, HS256 is not allowed at all.
		_, err = jtVerify(t, v, jtHMAC(t, "HS256", secret, hdr, claims))
		jtReject(t, err, popguard.ReasonTokenAlg)
		// Asymmetric tokens still verify alongside.
		jtAccept(t, hv, f.sign(t, nil, claims))
		// HS384/HS512 when configured; HS256 then refused.
		hv2 := f.verifier(t, validate.HMACSecret(secret, "HS384", "HS512"))
		jtAccept(t, hv2, jtHMAC(t, "HS384", secret, hdr, claims))
		jtAccept(t, hv2, jtHMAC(t, "HS512", secret, hdr, claims))
		_, err = jtVerify(t, hv2, jtHMAC(t, "HS256", secret, hdr, claims))
		jtReject(t, err, popguard.ReasonTokenAlg)
		// The MAC is checked over the exact signing input.
		good := jtHMAC(t, "HS256", secret, hdr, claims)
		parts := strings.Split(good, ".")
		other, _ := json.Marshal(f.claims(map[string]any{"sub": "mallory"}))
		_, err = jtVerify(t, hv, parts[0]+"."+jtB64.EncodeToString(other)+"."+parts[2])
		jtReject(t, err, popguard.ReasonTokenSignature)
		// A truncated MAC fails.
		mac, _ := jtB64.DecodeString(parts[2])
		_, err = jtVerify(t, hv, parts[0]+"."+parts[1]+"."+jtB64.EncodeToString(mac[:16]))
		jtReject(t, err, popguard.ReasonTokenSignature)
	})

	t.Run("header alg does not fit the key", func(t *testing.T) {
		rsaK := jtRSAKey()
		ec := newJWSKey("ES256")
		p384 := newJWSKey("ES384")
		ed := newJWSKey("EdDSA")
		keys, err := validate.StaticKeys(
			validate.PublicKey{KeyID: "rsa", Key: rsaK.Signer.Public()},
			validate.PublicKey{KeyID: "ec", Key: ec.Signer.Public()},
			validate.PublicKey{KeyID: "p384", Key: p384.Signer.Public()},
			validate.PublicKey{KeyID: "ed", Key: ed.Signer.Public()},
			validate.PublicKey{KeyID: "rsa-pinned", Algorithm: "RS256", Key: rsaK.Signer.Public()},
		)
		if err != nil {
			t.Fatal(err)
		}
		mv, err := validate.NewJWTVerifier(jtIssuer, keys, validate.Audience(jtAudience), validate.Clock(f.clock))
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name, kid string
			key       *jwsKey
		}{
			{"ES256 token, RSA key", "rsa", ec},
			{"RS256 token, EC key", "ec", rsaK},
			{"ES384 token, P-256 key", "ec", p384},
			{"ES256 token, P-384 key", "p384", ec},
			{"EdDSA token, EC key", "ec", ed},
			{"ES256 token, Ed25519 key", "ed", ec},
			{"PS256 token, key pinned to RS256", "rsa-pinned", jtWithAlg(rsaK, "PS256")},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := jtVerify(t, mv, jtSign(t, c.key, map[string]any{"typ": "at+jwt", "kid": c.kid}, claims))
				jtReject(t, err, popguard.ReasonTokenUnknownKey)
				if !errors.Is(err, validate.ErrUnknownKey) {
					t.Errorf("error %v does not wrap ErrUnknownKey", err)
				}
			})
		}
		// The fitting combinations verify.
		for kid, k := range map[string]*jwsKey{"rsa": rsaK, "ec": ec, "p384": p384, "ed": ed, "rsa-pinned": rsaK} {
			tok := jtAccept(t, mv, jtSign(t, k, map[string]any{"typ": "at+jwt", "kid": kid}, claims))
			if tok.SigningKeyID != kid {
				t.Errorf("SigningKeyID = %q, want %q", tok.SigningKeyID, kid)
			}
		}
		jtAccept(t, mv, jtSign(t, jtWithAlg(rsaK, "PS384"), map[string]any{"typ": "at+jwt", "kid": "rsa"}, claims))
	})

	t.Run("Algs", func(t *testing.T) {
		rv := f.verifier(t, validate.Algs("RS256"))
		_, err := jtVerify(t, rv, f.sign(t, nil, claims))
		jtReject(t, err, popguard.ReasonTokenAlg)
		ev := f.verifier(t, validate.Algs("ES256"))
		jtAccept(t, ev, f.sign(t, nil, claims))
		// EdDSA in the list admits its RFC 9864 name Ed25519 too.
		ed := newJWSKey("EdDSA")
		keys, err := validate.StaticKeys(validate.PublicKey{KeyID: "ed", Key: ed.Signer.Public()})
		if err != nil {
			t.Fatal(err)
		}
		edv, err := validate.NewJWTVerifier(jtIssuer, keys, validate.Audience(jtAudience), validate.Clock(f.clock), validate.Algs("EdDSA"))
		if err != nil {
			t.Fatal(err)
		}
		jtAccept(t, edv, jtSign(t, ed, map[string]any{"typ": "at+jwt", "kid": "ed"}, claims))
		jtAccept(t, edv, jtSign(t, jtWithAlg(ed, "Ed25519"), map[string]any{"typ": "at+jwt", "kid": "ed"}, claims))
	})
}

// RFC 9068 §4 / conformance T-5: only the authorization server's keys.
func TestJWTTokenHeaderKeys(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)
	attacker := newJWSKey("ES256")
	cases := map[string]map[string]any{
		"jwk (issuer key)":   {"jwk": f.iss.Key.PublicJWK(nil)},
		"jwk (attacker key)": {"jwk": attacker.PublicJWK(nil)},
		"jku":                {"jku": "https://attacker.example/jwks"},
		"x5u":                {"x5u": "https://attacker.example/cert.pem"},
		"jku empty":          {"jku": ""},
		"jku null":           {"jku": json.RawMessage("null")},
	}
	for name, hdr := range cases {
		t.Run(name, func(t *testing.T) {
			for _, k := range []*jwsKey{f.iss.Key, attacker} {
				_, err := jtVerify(t, v, jtSign(t, k, f.header(hdr), f.claims(nil)))
				jtReject(t, err, popguard.ReasonTokenUnknownKey)
			}
		})
	}
	t.Run("jwk not an object", func(t *testing.T) {
		_, err := jtVerify(t, v, f.sign(t, map[string]any{"jwk": "x"}, f.claims(nil)))
		jtReject(t, err, popguard.ReasonTokenMalformed)
	})
	t.Run("crit", func(t *testing.T) {
		_, err := jtVerify(t, v, f.sign(t, map[string]any{"crit": []string{"exp"}, "exp": 1}, f.claims(nil)))
		jtReject(t, err, popguard.ReasonTokenMalformed)
	})
}

func TestJWTTokenKeyAndSignature(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)
	claims := f.claims(nil)
	good := f.sign(t, nil, claims)
	jtAccept(t, v, good)
	parts := strings.Split(good, ".")

	t.Run("unknown kid", func(t *testing.T) {
		for _, kid := range []string{"unknown", f.iss.KID + "x", strings.ToUpper(f.iss.KID), " "} {
			if kid == f.iss.KID {
				continue // a KID without lower-case letters upper-cases to itself
			}
			_, err := jtVerify(t, v, f.sign(t, map[string]any{"kid": kid}, claims))
			jtReject(t, err, popguard.ReasonTokenUnknownKey)
		}
	})
	t.Run("tampered payload", func(t *testing.T) {
		other, _ := json.Marshal(f.claims(map[string]any{"sub": "mallory"}))
		_, err := jtVerify(t, v, parts[0]+"."+jtB64.EncodeToString(other)+"."+parts[2])
		jtReject(t, err, popguard.ReasonTokenSignature)
	})
	t.Run("tampered header", func(t *testing.T) {
		hj, _ := json.Marshal(f.header(map[string]any{"alg": "ES256", "x": 1}))
		_, err := jtVerify(t, v, jtB64.EncodeToString(hj)+"."+parts[1]+"."+parts[2])
		jtReject(t, err, popguard.ReasonTokenSignature)
	})
	t.Run("another key with the same kid", func(t *testing.T) {
		other := newJWSKey("ES256")
		_, err := jtVerify(t, v, jtSign(t, other, f.header(nil), claims))
		jtReject(t, err, popguard.ReasonTokenSignature)
		// Without a kid every issuer key is tried; none fits.
		_, err = jtVerify(t, v, jtSign(t, other, f.header(map[string]any{"kid": nil}), claims))
		jtReject(t, err, popguard.ReasonTokenSignature)
	})
	t.Run("bad signature bytes", func(t *testing.T) {
		sig, _ := jtB64.DecodeString(parts[2])
		flipped := slices.Clone(sig)
		flipped[10] ^= 1
		der := append([]byte{0x30, 0x44, 0x02, 0x20}, sig[:32]...)
		der = append(append(der, 0x02, 0x20), sig[32:]...)
		for name, s := range map[string][]byte{
			"flipped bit": flipped,
			"truncated":   sig[:63],
			"extended":    append(slices.Clone(sig), 0),
			"zero":        make([]byte, 64),
			"DER":         der,
			"one byte":    {1},
		} {
			_, err := jtVerify(t, v, parts[0]+"."+parts[1]+"."+jtB64.EncodeToString(s))
			if err == nil {
				t.Fatalf("%s: accepted", name)
			}
			jtReject(t, err, popguard.ReasonTokenSignature)
		}
	})
}

func TestJWTTokenIssuerAndAudience(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)

	for _, iss := range []string{"https://as.example.com/", "https://AS.example.com", "http://as.example.com", "https://as.example.com.", "", "https://evil.example.com"} {
		_, err := jtVerify(t, v, f.sign(t, nil, f.claims(map[string]any{"iss": iss})))
		jtReject(t, err, popguard.ReasonTokenIssuer)
	}
	jtAccept(t, v, f.sign(t, nil, f.claims(map[string]any{"aud": jtAudience})))
	jtAccept(t, v, f.sign(t, nil, f.claims(map[string]any{"aud": []string{"https://other.example", jtAudience}})))
	jtAccept(t, v, f.sign(t, nil, f.claims(map[string]any{"aud": []string{jtAudience}})))
	for _, aud := range []any{"https://other.example", jtAudience + "/", "HTTPS://RS.EXAMPLE.COM", "", []string{}, []string{"a", "b"}} {
		_, err := jtVerify(t, v, f.sign(t, nil, f.claims(map[string]any{"aud": aud})))
		jtReject(t, err, popguard.ReasonTokenAudience)
	}

	t.Run("several audiences", func(t *testing.T) {
		mv := f.verifier(t, validate.Audience("https://a.example", "https://b.example"))
		jtAccept(t, mv, f.sign(t, nil, f.claims(map[string]any{"aud": "https://b.example"})))
		jtAccept(t, mv, f.sign(t, nil, f.claims(map[string]any{"aud": []string{"x", "https://a.example"}})))
	})
	t.Run("SkipAudienceCheck", func(t *testing.T) {
		sv, err := validate.NewJWTVerifier(jtIssuer, f.keys, validate.SkipAudienceCheck(), validate.Clock(f.clock))
		if err != nil {
			t.Fatal(err)
		}
		tok := jtAccept(t, sv, f.sign(t, nil, f.claims(map[string]any{"aud": "https://other.example"})))
		if !slices.Equal(tok.Audience, []string{"https://other.example"}) {
			t.Errorf("Audience = %q", tok.Audience)
		}
		// aud is still a required claim with the right type.
		_, err = jtVerify(t, sv, f.sign(t, nil, f.claims(map[string]any{"aud": nil})))
		jtReject(t, err, popguard.ReasonTokenClaims)
		_, err = jtVerify(t, sv, f.sign(t, nil, f.claims(map[string]any{"aud": 1})))
		jtReject(t, err, popguard.ReasonTokenClaims)
		// The issuer is still checked.
		_, err = jtVerify(t, sv, f.sign(t, nil, f.claims(map[string]any{"iss": "https://evil.example"})))
		jtReject(t, err, popguard.ReasonTokenIssuer)
	})
	t.Run("Audience required", func(t *testing.T) {
		if _, err := validate.NewJWTVerifier(jtIssuer, f.keys); err == nil {
			t.Error("NewJWTVerifier without Audience succeeded")
		}
		if _, err := validate.NewJWTVerifier(jtIssuer, f.keys, validate.Audience()); err == nil {
			t.Error("NewJWTVerifier with Audience() succeeded")
		}
		if _, err := validate.NewJWTVerifier(jtIssuer, f.keys, validate.Audience("")); err == nil {
			t.Error(`NewJWTVerifier with Audience("") succeeded`)
		}
	})
}

func TestJWTTokenTimes(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t) // default leeway 30s
	at := func(d time.Duration) int64 { return f.now.Add(d).Unix() }
	type tc struct {
		name   string
		set    map[string]any
		reason popguard.Reason // "" = accepted
	}
	cases := []tc{
		{"exp long past", map[string]any{"iat": at(-time.Hour), "exp": at(-10 * time.Minute)}, popguard.ReasonTokenExpired},
		{"exp past beyond leeway", map[string]any{"iat": at(-time.Hour), "exp": at(-31 * time.Second)}, popguard.ReasonTokenExpired},
		{"exp at the leeway edge", map[string]any{"iat": at(-time.Hour), "exp": at(-30 * time.Second)}, popguard.ReasonTokenExpired},
		{"exp past within leeway", map[string]any{"iat": at(-time.Hour), "exp": at(-29 * time.Second)}, ""},
		{"exp now", map[string]any{"exp": at(0)}, ""},
		{"exp zero", map[string]any{"iat": 0, "exp": 0}, popguard.ReasonTokenExpired},
		{"nbf future", map[string]any{"nbf": at(31 * time.Second)}, popguard.ReasonTokenNotYetValid},
		{"nbf far future", map[string]any{"nbf": at(24 * time.Hour), "exp": at(48 * time.Hour)}, popguard.ReasonTokenNotYetValid},
		{"nbf within leeway", map[string]any{"nbf": at(29 * time.Second)}, ""},
		{"nbf at the leeway edge", map[string]any{"nbf": at(30 * time.Second)}, ""},
		{"nbf past", map[string]any{"nbf": at(-time.Hour)}, ""},
		{"iat future", map[string]any{"iat": at(31 * time.Second)}, popguard.ReasonTokenIssuedAt},
		{"iat far future", map[string]any{"iat": at(time.Hour), "exp": at(2 * time.Hour)}, popguard.ReasonTokenIssuedAt},
		{"iat within leeway", map[string]any{"iat": at(29 * time.Second)}, ""},
		{"iat long past", map[string]any{"iat": at(-24 * time.Hour)}, ""},
		{"expired and not yet valid", map[string]any{"exp": at(-time.Hour), "nbf": at(time.Hour)}, popguard.ReasonTokenExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := jtVerify(t, v, f.sign(t, nil, f.claims(c.set)))
			if c.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			jtReject(t, err, c.reason)
		})
	}
	t.Run("Leeway(0)", func(t *testing.T) {
		zv := f.verifier(t, validate.Leeway(0))
		_, err := jtVerify(t, zv, f.sign(t, nil, f.claims(map[string]any{"exp": at(0)})))
		jtReject(t, err, popguard.ReasonTokenExpired)
		jtAccept(t, zv, f.sign(t, nil, f.claims(map[string]any{"exp": at(time.Second)})))
		_, err = jtVerify(t, zv, f.sign(t, nil, f.claims(map[string]any{"nbf": at(time.Second)})))
		jtReject(t, err, popguard.ReasonTokenNotYetValid)
		_, err = jtVerify(t, zv, f.sign(t, nil, f.claims(map[string]any{"iat": at(time.Second)})))
		jtReject(t, err, popguard.ReasonTokenIssuedAt)
	})
	t.Run("Leeway(5m)", func(t *testing.T) {
		lv := f.verifier(t, validate.Leeway(5*time.Minute))
		jtAccept(t, lv, f.sign(t, nil, f.claims(map[string]any{"iat": at(-time.Hour), "exp": at(-4 * time.Minute)})))
		_, err := jtVerify(t, lv, f.sign(t, nil, f.claims(map[string]any{"iat": at(-time.Hour), "exp": at(-6 * time.Minute)})))
		jtReject(t, err, popguard.ReasonTokenExpired)
	})
	t.Run("clock moves", func(t *testing.T) {
		var mu sync.Mutex
		now := f.now
		cv := f.verifier(t, validate.Clock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now }))
		tok := f.sign(t, nil, f.claims(nil)) // exp now+5m
		jtAccept(t, cv, tok)
		mu.Lock()
		now = now.Add(5*time.Minute + 30*time.Second)
		mu.Unlock()
		_, err := jtVerify(t, cv, tok)
		jtReject(t, err, popguard.ReasonTokenExpired)
	})
}

// NumericDates outside [0, 1e11) would overflow or wrap when converted to a
// time.Time (a far-future nbf turning into a past one); they are refused as
// malformed claims.
func TestJWTTokenTimesOutOfRange(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)
	for name, set := range map[string]map[string]any{
		"nbf 1e300":      {"nbf": 1e300},
		"nbf 9.3e18":     {"nbf": 9.3e18},
		"nbf maxint64":   {"nbf": json.RawMessage("9223372036854775807")},
		"nbf 1e11":       {"nbf": 1e11},
		"nbf negative":   {"nbf": -1},
		"iat 1e300":      {"iat": 1e300},
		"iat 9.3e18":     {"iat": 9.3e18},
		"iat negative":   {"iat": -1e300},
		"exp 1e300":      {"exp": 1e300},
		"exp 1e11":       {"exp": 1e11},
		"exp negative":   {"exp": -1},
		"exp -0.5":       {"exp": -0.5},
		"exp huge int":   {"exp": json.RawMessage("123456789012345678901234567890")},
		"exp 1e2 digits": {"exp": json.RawMessage("1" + strings.Repeat("0", 400))},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jtVerify(t, v, f.sign(t, nil, f.claims(set)))
			if err == nil {
				t.Fatalf("token with %s accepted", name)
			}
			jtReject(t, err, popguard.ReasonTokenClaims)
		})
	}
	// Just below the bound is a valid (far-future) date.
	tok := jtAccept(t, v, f.sign(t, nil, f.claims(map[string]any{"exp": 99_999_999_999})))
	if tok.Expiry.Year() != 5138 {
		t.Errorf("Expiry = %v", tok.Expiry)
	}
	_, err := jtVerify(t, v, f.sign(t, nil, f.claims(map[string]any{"nbf": 99_999_999_999, "exp": 99_999_999_999})))
	jtReject(t, err, popguard.ReasonTokenNotYetValid)
}

func TestJWTTokenClaims(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)

	t.Run("missing required", func(t *testing.T) {
		for _, name := range []string{"iss", "exp", "aud", "sub", "client_id", "iat", "jti"} {
			t.Run(name, func(t *testing.T) {
				_, err := jtVerify(t, v, f.sign(t, nil, f.claims(map[string]any{name: nil})))
				jtReject(t, err, popguard.ReasonTokenClaims)
			})
		}
	})
	t.Run("Profile.Required", func(t *testing.T) {
		p := validate.RFC9068()
		p.Required = []string{"iss", "aud", "exp", "tenant"}
		rv := f.verifier(t, validate.UseProfile(p))
		_, err := jtVerify(t, rv, f.sign(t, nil, f.claims(nil)))
		jtReject(t, err, popguard.ReasonTokenClaims)
		jtAccept(t, rv, f.sign(t, nil, f.claims(map[string]any{"tenant": "t1", "sub": nil, "client_id": nil, "jti": nil, "iat": nil})))
	})
	t.Run("wrong type", func(t *testing.T) {
		cases := map[string]map[string]any{
			"exp string":        {"exp": fmt.Sprint(f.now.Add(time.Hour).Unix())},
			"exp null":          {"exp": json.RawMessage("null")},
			"exp bool":          {"exp": true},
			"exp array":         {"exp": []int64{f.now.Add(time.Hour).Unix()}},
			"iat string":        {"iat": fmt.Sprint(f.now.Unix())},
			"nbf string":        {"nbf": "0"},
			"aud number":        {"aud": 42},
			"aud object":        {"aud": map[string]any{"a": jtAudience}},
			"aud mixed array":   {"aud": []any{jtAudience, 1}},
			"aud nested array":  {"aud": []any{[]string{jtAudience}}},
			"scope mixed array": {"scope": []any{"read", 1}},
			"scope number":      {"scope": 1},
			"scp number":        {"scp": 1},
			"scp array mixed":   {"scp": []any{"a", 1}},
			"iss number":        {"iss": 1},
			"iss array":         {"iss": []string{jtIssuer}},
			"sub number":        {"sub": 12345},
			"sub null":          {"sub": json.RawMessage("null")},
			"client_id object":  {"client_id": map[string]any{}},
			"jti number":        {"jti": 7},
			"exp quoted number": {"exp": json.RawMessage(`"1e10"`)},
			"exp 1e999":         {"exp": json.RawMessage(`1e999`)},
			"nbf -1e999":        {"nbf": json.RawMessage(`-1e999`)},
		}
		// A profile reading scp and roles, so their types are checked too.
		p := validate.RFC9068()
		p.ScopeClaims = []string{"scope", "scp"}
		pv := f.verifier(t, validate.UseProfile(p))
		for name, set := range cases {
			t.Run(name, func(t *testing.T) {
				_, err := jtVerify(t, pv, f.sign(t, nil, f.claims(set)))
				jtReject(t, err, popguard.ReasonTokenClaims)
			})
		}
	})
	t.Run("duplicate members", func(t *testing.T) {
		hdr := fmt.Sprintf(`{"alg":"ES256","typ":"at+jwt","kid":%q}`, f.iss.KID)
		body := fmt.Sprintf(`{"iss":%q,"sub":"alice","aud":%q,"client_id":"c","iat":%d,"exp":%d,"jti":"j"`,
			jtIssuer, jtAudience, f.now.Unix(), f.now.Add(time.Hour).Unix())
		// Sanity: the hand-written payload is valid on its own.
		jtAccept(t, v, jtSignRaw(t, f.iss.Key, hdr, body+"}"))
		for name, raw := range map[string][2]string{
			"sub twice":        {hdr, body + `,"sub":"admin"}`},
			"aud twice":        {hdr, body + `,"aud":"https://other.example"}`},
			"exp twice":        {hdr, body + fmt.Sprintf(`,"exp":%d}`, f.now.Add(100*time.Hour).Unix())},
			"escaped sub":      {hdr, body + `,"s\u0075b":"admin"}`},
			"nested cnf jkt":   {hdr, body + `,"cnf":{"jkt":"a","jkt":"b"}}`},
			"header typ twice": {hdr[:len(hdr)-1] + `,"typ":"JWT"}`, body + "}"},
			"header alg twice": {hdr[:len(hdr)-1] + `,"alg":"none"}`, body + "}"},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := jtVerify(t, v, jtSignRaw(t, f.iss.Key, raw[0], raw[1]))
				jtReject(t, err, popguard.ReasonTokenMalformed)
			})
		}
	})
}

func TestJWTTokenSizeAndGarbage(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)

	t.Run("MaxSize default", func(t *testing.T) {
		big := f.sign(t, nil, f.claims(map[string]any{"pad": strings.Repeat("x", maxTokenSize)}))
		_, err := jtVerify(t, v, big)
		jtReject(t, err, popguard.ReasonTokenMalformed)
		if !errors.Is(err, jose.ErrTooLarge) {
			t.Errorf("error %v does not wrap jose.ErrTooLarge", err)
		}
		// Just under the limit is fine.
		tok := f.sign(t, nil, f.claims(nil))
		pad := (maxTokenSize-len(tok)-20)*3/4 - 10
		ok := f.sign(t, nil, f.claims(map[string]any{"pad": strings.Repeat("x", pad)}))
		if len(ok) > maxTokenSize {
			t.Fatalf("test token is %d bytes", len(ok))
		}
		jtAccept(t, v, ok)
	})
	t.Run("MaxSize option", func(t *testing.T) {
		sv := f.verifier(t, validate.MaxSize(1024))
		small := f.sign(t, nil, f.claims(nil))
		if len(small) > 1024 {
			t.Fatalf("test token is %d bytes", len(small))
		}
		jtAccept(t, sv, small)
		big := f.sign(t, nil, f.claims(map[string]any{"pad": strings.Repeat("x", 1024)}))
		_, err := jtVerify(t, sv, big)
		jtReject(t, err, popguard.ReasonTokenMalformed)
		if !errors.Is(err, jose.ErrTooLarge) {
			t.Errorf("error %v does not wrap jose.ErrTooLarge", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		good := f.sign(t, nil, f.claims(nil))
		p := strings.Split(good, ".")
		enc := func(s string) string { return jtB64.EncodeToString([]byte(s)) }
		hdr := enc(fmt.Sprintf(`{"alg":"ES256","typ":"at+jwt","kid":%q}`, f.iss.KID))
		inputs := []string{
			"", " ", ".", "..", "...", "a", "a.b", "a.b.c", "abc.def.ghi", "a..c", ".b.c", "a.b.",
			"Bearer " + good, good + " ", " " + good, good + "\n", good + ".", "." + good,
			p[0] + "." + p[1], p[0] + "." + p[1] + "." + p[2] + "." + p[2],
			p[0] + "." + p[1] + "." + p[2] + ".x.y", // JWE-like 5 segments
			p[0] + "=." + p[1] + "." + p[2],         // padding
			p[0] + "." + p[1] + ".+" + p[2][1:],     // base64, not base64url
			p[0] + "." + p[1] + "./" + p[2][1:],
			enc("[]") + "." + p[1] + "." + p[2],
			enc("null") + "." + p[1] + "." + p[2],
			enc(`"at+jwt"`) + "." + p[1] + "." + p[2],
			enc("{") + "." + p[1] + "." + p[2],
			enc(`{"typ":"at+jwt"}`) + "." + p[1] + "." + p[2],
			hdr + "." + enc("[]") + "." + p[2],
			hdr + "." + enc("null") + "." + p[2],
			hdr + "." + enc(`"str"`) + "." + p[2],
			hdr + "." + enc("{}x") + "." + p[2],
			hdr + "." + enc(strings.Repeat(`{"a":`, 40)+"1"+strings.Repeat("}", 40)) + "." + p[2],
			hdr + "." + enc("{\"sub\":\"\xff\"}") + "." + p[2],
			"ëyJ.eyJ.sig",
			"\x00.\x00.\x00",
			`{"protected":"x","payload":"y","signature":"z"}`,
		}
		for i, in := range inputs {
			_, err := jtVerify(t, v, in)
			if err == nil {
				t.Fatalf("input %d %q accepted", i, in)
			}
			var pe *popguard.Error
			if !errors.As(err, &pe) || pe.Code != popguard.CodeInvalidToken || pe.Reason != popguard.ReasonTokenMalformed {
				t.Errorf("input %d %q: got %v, want invalid_token (%s)", i, in, err, popguard.ReasonTokenMalformed)
			}
		}
	})
}

func TestJWTTokenCnf(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)
	k := newJWSKey("ES256")
	jkt := k.Thumbprint()
	accept := func(t *testing.T, cnf any) validate.Confirmation {
		t.Helper()
		tok := jtAccept(t, v, f.sign(t, nil, f.claims(map[string]any{"cnf": cnf})))
		if !tok.Cnf.Bound() {
			t.Errorf("cnf %v: not Bound", cnf)
		}
		return tok.Cnf
	}

	t.Run("jkt", func(t *testing.T) {
		c := accept(t, map[string]any{"jkt": jkt})
		if c.JKT != jkt || c.KID != "" || c.JWK != nil || c.X5tS256 != "" {
			t.Errorf("Cnf = %+v", c)
		}
	})
	t.Run("kid (Entra)", func(t *testing.T) {
		c := accept(t, map[string]any{"kid": jkt, "xms_ksl": "sw"})
		if c.KID != jkt || c.JKT != "" {
			t.Errorf("Cnf = %+v", c)
		}
	})
	t.Run("jwk", func(t *testing.T) {
		c := accept(t, map[string]any{"jwk": k.PublicJWK(nil)})
		var got map[string]any
		if err := json.Unmarshal(c.JWK, &got); err != nil {
			t.Fatalf("Cnf.JWK %q: %v", c.JWK, err)
		}
		if got["x"] != k.PublicJWK(nil)["x"] || got["kty"] != "EC" {
			t.Errorf("Cnf.JWK = %s", c.JWK)
		}
	})
	t.Run("x5t#S256", func(t *testing.T) {
		c := accept(t, map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})
		if c.X5tS256 != "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2" {
			t.Errorf("Cnf = %+v", c)
		}
	})
	t.Run("jku", func(t *testing.T) {
		c := accept(t, map[string]any{"jku": "https://client.example/jwks"})
		if c.JKU != "https://client.example/jwks" {
			t.Errorf("Cnf = %+v", c)
		}
	})
	t.Run("unknown members ignored", func(t *testing.T) {
		c := accept(t, map[string]any{"jkt": jkt, "ext": map[string]any{"a": 1}})
		if c.JKT != jkt {
			t.Errorf("Cnf = %+v", c)
		}
	})

	bad := map[string]any{
		"string":               "abc",
		"number":               5,
		"array":                []any{map[string]any{"jkt": jkt}},
		"null":                 json.RawMessage("null"),
		"bool":                 true,
		"empty":                map[string]any{},
		"only xms_ksl":         map[string]any{"xms_ksl": "sw"},
		"jkt and jwk":          map[string]any{"jkt": jkt, "jwk": k.PublicJWK(nil)},
		"jkt and x5t#S256":     map[string]any{"jkt": jkt, "x5t#S256": jkt},
		"jwk and jku":          map[string]any{"jwk": k.PublicJWK(nil), "jku": "https://client.example/jwks"},
		"kid and jkt":          map[string]any{"kid": "k1", "jkt": jkt},
		"kid and x5t#S256":     map[string]any{"kid": "k1", "x5t#S256": jkt},
		"jkt RFC 9278 urn":     map[string]any{"jkt": "urn:ietf:params:oauth:jwk-thumbprint:sha-256:" + jkt},
		"jkt short":            map[string]any{"jkt": jkt[:42]},
		"jkt long":             map[string]any{"jkt": jkt + "A"},
		"jkt padded":           map[string]any{"jkt": jkt + "="},
		"jkt std base64":       map[string]any{"jkt": "+" + jkt[1:]},
		"jkt number":           map[string]any{"jkt": 1},
		"jkt empty":            map[string]any{"jkt": ""},
		"jkt hex":              map[string]any{"jkt": strings.Repeat("ab", 32)},
		"kid empty":            map[string]any{"kid": ""},
		"kid number":           map[string]any{"kid": 1},
		"jwk string":           map[string]any{"jwk": "eyJrdHkiOiJFQyJ9"},
		"jwk null":             map[string]any{"jwk": json.RawMessage("null")},
		"x5t#S256 empty":       map[string]any{"x5t#S256": ""},
		"x5t#S256 short":       map[string]any{"x5t#S256": "abc"},
		"x5t#S256 padded":      map[string]any{"x5t#S256": jkt[:42] + "="},
		"jku empty":            map[string]any{"jku": ""},
		"jku number":           map[string]any{"jku": 1},
		"jkt null":             map[string]any{"jkt": json.RawMessage("null")},
		"jkt with kid in jwk":  map[string]any{"jkt": jkt, "kid": jkt},
		"three key members":    map[string]any{"jkt": jkt, "jwk": k.PublicJWK(nil), "jku": "https://c.example"},
		"x5t#S256 and jwk":     map[string]any{"x5t#S256": jkt, "jwk": k.PublicJWK(nil)},
		"jwe and jkt":          map[string]any{"jwe": "a.b.c.d.e", "jkt": jkt},
		"x5t#S256 not string":  map[string]any{"x5t#S256": []string{jkt}},
		"jkt upper-case field": map[string]any{"JKT": jkt},
	}
	for name, cnf := range bad {
		t.Run("reject "+name, func(t *testing.T) {
			_, err := jtVerify(t, v, f.sign(t, nil, f.claims(map[string]any{"cnf": cnf})))
			jtReject(t, err, popguard.ReasonTokenCnf)
		})
	}
}

func TestJWTConfirmationBound(t *testing.T) {
	cases := []struct {
		name string
		c    validate.Confirmation
		want bool
	}{
		{"zero", validate.Confirmation{}, false},
		{"JKT", validate.Confirmation{JKT: "x"}, true},
		{"KID", validate.Confirmation{KID: "x"}, true},
		{"JWK", validate.Confirmation{JWK: []byte(`{}`)}, true},
		{"JWK empty non-nil", validate.Confirmation{JWK: []byte{}}, true},
		{"JKU", validate.Confirmation{JKU: "https://c.example/jwks"}, true},
		{"JWE", validate.Confirmation{JWE: []byte(`"a.b.c.d.e"`)}, true},
		{"X5tS256", validate.Confirmation{X5tS256: "x"}, true},
		{"all", validate.Confirmation{JKT: "a", KID: "b", JWK: []byte("{}"), JKU: "c", JWE: []byte("d"), X5tS256: "e"}, true},
	}
	for _, c := range cases {
		if got := c.c.Bound(); got != c.want {
			t.Errorf("%s: Bound() = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestJWTVerifierOptions(t *testing.T) {
	f := newJTFixture(t)
	secret := []byte(strings.Repeat("k", 32))
	bad := map[string]func() (*validate.JWTVerifier, error){
		"empty issuer": func() (*validate.JWTVerifier, error) {
			return validate.NewJWTVerifier("", f.keys, validate.Audience(jtAudience))
		},
		"nil key set": func() (*validate.JWTVerifier, error) {
			return validate.NewJWTVerifier(jtIssuer, nil, validate.Audience(jtAudience))
		},
		"no audience": func() (*validate.JWTVerifier, error) { return validate.NewJWTVerifier(jtIssuer, f.keys) },
	}
	opts := map[string]validate.Option{
		"Leeway > 5m":             validate.Leeway(5*time.Minute + time.Nanosecond),
		"Leeway 1h":               validate.Leeway(time.Hour),
		"Leeway negative":         validate.Leeway(-time.Second),
		"HMACSecret short":        validate.HMACSecret(secret[:31]),
		"HMACSecret empty":        validate.HMACSecret(nil),
		"HMACSecret RS256":        validate.HMACSecret(secret, "RS256"),
		"HMACSecret none":         validate.HMACSecret(secret, "HS256", "none"),
		"HMACSecret lower-case":   validate.HMACSecret(secret, "hs256"),
		"Algs none":               validate.Algs("none"),
		"Algs HS256":              validate.Algs("HS256"),
		"Algs empty":              validate.Algs(),
		"Algs lower-case":         validate.Algs("es256"),
		"Algs unknown":            validate.Algs("RS256", "XX1"),
		"Algs empty name":         validate.Algs(""),
		"MaxSize tiny":            validate.MaxSize(100),
		"MaxSize zero":            validate.MaxSize(0),
		"Clock nil":               validate.Clock(nil),
		"Audience empty string":   validate.Audience(""),
		"Audience one of several": validate.Audience(jtAudience, ""),
	}
	for name, o := range opts {
		bad[name] = func() (*validate.JWTVerifier, error) {
			return validate.NewJWTVerifier(jtIssuer, f.keys, validate.Audience(jtAudience), o)
		}
	}
	for name, mk := range bad {
		v, err := mk()
		if err == nil || v != nil {
			t.Errorf("%s: got %v, %v; want an error", name, v, err)
		}
	}
	good := []validate.Option{
		validate.Leeway(0), validate.Leeway(5 * time.Minute), validate.HMACSecret(secret),
		validate.HMACSecret(secret, "HS256", "HS384", "HS512"), validate.Algs(validate.DefaultTokenAlgs()...),
		validate.Algs("Ed25519"), validate.MaxSize(512), validate.MaxSize(1 << 20),
		validate.Clock(time.Now), validate.SkipAudienceCheck(), validate.UseProfile(validate.Entra()), validate.UseProfile(jtRelaxedProfile()),
	}
	for i, o := range good {
		if _, err := validate.NewJWTVerifier(jtIssuer, f.keys, validate.Audience(jtAudience), o); err != nil {
			t.Errorf("good option %d: %v", i, err)
		}
	}
	// HMACSecret copies the secret.
	s := slices.Clone(secret)
	hv := f.verifier(t, validate.HMACSecret(s))
	tok := jtHMAC(t, "HS256", secret, map[string]any{"typ": "at+jwt"}, f.claims(nil))
	s[0] ^= 1
	jtAccept(t, hv, tok)
}

func TestJWTTokenConcurrent(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)
	good := f.sign(t, nil, f.claims(nil))
	bad := f.sign(t, nil, f.claims(map[string]any{"aud": "x"}))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for range 20 {
				if _, err := v.VerifyToken(ctx, good); err != nil {
					errs <- err
					return
				}
				if _, err := v.VerifyToken(ctx, bad); popguard.ReasonOf(err) != popguard.ReasonTokenAudience {
					errs <- fmt.Errorf("goroutine %d: bad token: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Compile-time checks of the interfaces the tests rely on.
var (
	_ validate.TokenVerifier = (*validate.JWTVerifier)(nil)
	_ validate.KeySet        = (*validate.StaticKeySet)(nil)
	_ validate.KeySet        = (*validate.RemoteKeySet)(nil)
)

// Access tokens may carry many claims (issuers add custom ones): the member
// cap is 256 by default and set with MaxClaims; proofs and SHRs keep 64.
func TestJWTManyClaims(t *testing.T) {
	f := newJTFixture(t)
	many := func(n int) map[string]any {
		extra := map[string]any{}
		for i := range n {
			extra[fmt.Sprintf("claim_%d", i)] = i
		}
		return f.claims(extra)
	}
	tok200 := f.sign(t, nil, many(200))
	jtAccept(t, f.verifier(t), tok200)
	_, err := jtVerify(t, f.verifier(t), f.sign(t, nil, many(300)))
	jtReject(t, err, popguard.ReasonTokenMalformed)
	jtAccept(t, f.verifier(t, validate.MaxClaims(1000), validate.MaxSize(64<<10)), f.sign(t, nil, many(900)))
	_, err = jtVerify(t, f.verifier(t, validate.MaxClaims(100)), tok200)
	jtReject(t, err, popguard.ReasonTokenMalformed)
	if _, err := validate.NewJWTVerifier(jtIssuer, f.keys, validate.Audience(jtAudience), validate.MaxClaims(8)); err == nil {
		t.Error("MaxClaims(8) accepted")
	}
}
