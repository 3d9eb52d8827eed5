// Package sign makes keys, access tokens, DPoP proofs and PoP signed HTTP
// requests. It is the client side of popguard, used by the tests, the demo
// and popctl; servers never need it.
package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/popguard/popguard/internal/jose"
)

var b64 = base64.RawURLEncoding

// Key is a private signing key with its JWS algorithm.
type Key struct {
	Alg    string
	Signer crypto.Signer
}

// NewKey generates a key for alg: ES256, ES384, ES512, RS256..RS512,
// PS256..PS512 (2048-bit RSA) or EdDSA.
func NewKey(alg string) (*Key, error) {
	s, err := jose.GenerateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return &Key{Alg: alg, Signer: s}, nil
}

// MustKey is NewKey that panics; for tests and examples.
func MustKey(alg string) *Key {
	k, err := NewKey(alg)
	if err != nil {
		panic(err)
	}
	return k
}

// PublicJWK returns the public key as a JWK object (only the required
// members plus any extra given).
func (k *Key) PublicJWK(extra map[string]any) map[string]any {
	m := PublicJWKOf(k.Signer.Public())
	for n, v := range extra {
		m[n] = v
	}
	return m
}

// PublicJWKOf returns the JWK members of a public key.
func PublicJWKOf(pub crypto.PublicKey) map[string]any {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		return map[string]any{"kty": "EC", "crv": p.Curve.Params().Name,
			"x": b64.EncodeToString(p.X.FillBytes(make([]byte, size))),
			"y": b64.EncodeToString(p.Y.FillBytes(make([]byte, size)))}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64.EncodeToString(p.N.Bytes()),
			"e": b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(p)}
	}
	return nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key.
func (k *Key) Thumbprint() string { return Thumbprint(k.Signer.Public()) }

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of pub.
func Thumbprint(pub crypto.PublicKey) string {
	m := PublicJWKOf(pub)
	var canon string
	switch m["kty"] {
	case "EC":
		canon = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, m["crv"], m["x"], m["y"])
	case "RSA":
		canon = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, m["e"], m["n"])
	case "OKP":
		canon = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":%q}`, m["x"])
	}
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// JWS signs header and claims (JSON-marshalled) as a compact JWS. The
// header's alg is set to k.Alg unless header sets it.
func (k *Key) JWS(header, claims map[string]any) (string, error) {
	h := map[string]any{"alg": k.Alg}
	for n, v := range header {
		h[n] = v
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return k.SignRaw(hj, cj)
}

// SignRaw signs exact header and payload bytes, for tests that need JSON a
// marshaller would never produce.
func (k *Key) SignRaw(header, payload []byte) (string, error) {
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sig, err := k.Sign([]byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// Sign returns the JWS signature of input under k.Alg.
func (k *Key) Sign(input []byte) ([]byte, error) {
	switch s := k.Signer.(type) {
	case *ecdsa.PrivateKey:
		var digest []byte
		switch k.Alg {
		case "ES384":
			d := sha512.Sum384(input)
			digest = d[:]
		case "ES512":
			d := sha512.Sum512(input)
			digest = d[:]
		default:
			d := sha256.Sum256(input)
			digest = d[:]
		}
		r, sv, err := ecdsa.Sign(rand.Reader, s, digest)
		if err != nil {
			return nil, err
		}
		size := (s.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		sv.FillBytes(out[size:])
		return out, nil
	case *rsa.PrivateKey:
		h := crypto.SHA256
		switch k.Alg[2:] {
		case "384":
			h = crypto.SHA384
		case "512":
			h = crypto.SHA512
		}
		hh := h.New()
		hh.Write(input)
		digest := hh.Sum(nil)
		if k.Alg[0] == 'P' {
			return rsa.SignPSS(rand.Reader, s, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, s, h, digest)
	case ed25519.PrivateKey:
		return ed25519.Sign(s, input), nil
	}
	return k.signOpaque(input)
}

// signOpaque signs with a crypto.Signer whose private half is not a standard
// library type (a hardware or KMS key), through the interface alone.
func (k *Key) signOpaque(input []byte) ([]byte, error) {
	if k.Signer == nil {
		return nil, fmt.Errorf("sign: nil signer")
	}
	h := crypto.SHA256
	switch {
	case strings.HasSuffix(k.Alg, "384"):
		h = crypto.SHA384
	case strings.HasSuffix(k.Alg, "512"):
		h = crypto.SHA512
	}
	digest := func() []byte { d := h.New(); d.Write(input); return d.Sum(nil) }
	switch pub := k.Signer.Public().(type) {
	case *ecdsa.PublicKey:
		der, err := k.Signer.Sign(rand.Reader, digest(), h)
		if err != nil {
			return nil, err
		}
		var sig struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil {
			return nil, fmt.Errorf("sign: the signer returned no ASN.1 ECDSA signature")
		}
		size := (pub.Curve.Params().BitSize + 7) / 8
		if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
			return nil, fmt.Errorf("sign: the signer returned an out-of-range ECDSA signature")
		}
		out := make([]byte, 2*size)
		sig.R.FillBytes(out[:size])
		sig.S.FillBytes(out[size:])
		return out, nil
	case *rsa.PublicKey:
		if strings.HasPrefix(k.Alg, "PS") {
			return k.Signer.Sign(rand.Reader, digest(), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
		}
		return k.Signer.Sign(rand.Reader, digest(), h)
	case ed25519.PublicKey:
		return k.Signer.Sign(rand.Reader, input, crypto.Hash(0))
	default:
		return nil, fmt.Errorf("sign: unsupported public key %T", pub)
	}
}

// RandomID returns a random 128-bit base64url identifier.
func RandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// ATH returns base64url(SHA-256(accessToken)), the ath claim.
func ATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return b64.EncodeToString(sum[:])
}

// ProofOptions are the optional parts of a DPoP proof.
type ProofOptions struct {
	AccessToken string    // sets ath
	Nonce       string    // sets nonce
	IssuedAt    time.Time // default now
	JTI         string    // default random
	// Extra adds payload claims beyond RFC 9449's (a claim of the same
	// name as one of those replaces it).
	Extra map[string]any
}

// Proof returns a DPoP proof (RFC 9449 §4.2) for method and htu.
func (k *Key) Proof(method, htu string, o ProofOptions) (string, error) {
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	jti := o.JTI
	if jti == "" {
		jti = RandomID()
	}
	claims := map[string]any{"jti": jti, "htm": method, "htu": htu, "iat": iat.Unix()}
	if o.AccessToken != "" {
		claims["ath"] = ATH(o.AccessToken)
	}
	if o.Nonce != "" {
		claims["nonce"] = o.Nonce
	}
	for n, v := range o.Extra {
		claims[n] = v
	}
	return k.JWS(map[string]any{"typ": "dpop+jwt", "jwk": k.PublicJWK(nil)}, claims)
}

// Issuer mints RFC 9068 access tokens, playing the authorization server.
type Issuer struct {
	URL string
	KID string
	Key *Key
}

// NewIssuer returns an issuer at url with a fresh ES256 key.
func NewIssuer(url string) (*Issuer, error) {
	k, err := NewKey("ES256")
	if err != nil {
		return nil, err
	}
	return &Issuer{URL: url, KID: RandomID()[:8], Key: k}, nil
}

// JWKS returns the issuer's public key set document.
func (i *Issuer) JWKS() []byte {
	jwk := i.Key.PublicJWK(map[string]any{"kid": i.KID, "alg": i.Key.Alg, "use": "sig"})
	b, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	return b
}

// TokenOptions describe an access token.
type TokenOptions struct {
	Subject, ClientID, Audience, Scope string
	TTL                                time.Duration // default 5 minutes
	IssuedAt                           time.Time     // default now
	Cnf                                map[string]any
	Typ                                string // default at+jwt
	Extra                              map[string]any
}

// Token mints an access token.
func (i *Issuer) Token(o TokenOptions) (string, error) {
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	claims := map[string]any{
		"iss": i.URL, "sub": o.Subject, "aud": o.Audience, "client_id": o.ClientID,
		"iat": iat.Unix(), "exp": iat.Add(ttl).Unix(), "jti": RandomID(),
	}
	if o.Scope != "" {
		claims["scope"] = o.Scope
	}
	if o.Cnf != nil {
		claims["cnf"] = o.Cnf
	}
	for n, v := range o.Extra {
		claims[n] = v
	}
	typ := o.Typ
	if typ == "" {
		typ = "at+jwt"
	}
	return i.Key.JWS(map[string]any{"typ": typ, "kid": i.KID}, claims)
}
