package validate_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// The tests' own JWS signer for access tokens, key sets and adversarial
// proofs, on the standard library alone. The public kit (poptest,
// dpopclient) signs only what a well-behaved client sends; the tests of
// what the validator refuses also need what no client should make: an
// RSA-1024 key, a P-384 key labelled ES256, a P-256 key labelled ES384, an
// Ed25519 key labelled "Ed25519", an RSA key labelled PS256 where its key
// is pinned to RS256.

var jwsB64 = base64.RawURLEncoding

// jwsKey is a private key and the alg its signatures are labelled with
// (and whose hash they use). Nothing checks that the two fit.
type jwsKey struct {
	Alg    string
	Signer crypto.Signer
}

// newJWSKey generates a key for alg: ES256, ES384, ES512, RS*/PS* (RSA-2048)
// or EdDSA.
func newJWSKey(alg string) *jwsKey {
	var s crypto.Signer
	var err error
	switch {
	case alg == "ES256":
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case alg == "ES384":
		s, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case alg == "ES512":
		s, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case alg == "EdDSA":
		_, s, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("newJWSKey: unsupported alg " + alg)
	}
	if err != nil {
		panic(err)
	}
	return &jwsKey{Alg: alg, Signer: s}
}

// JWS signs claims as a compact JWS under header, whose alg defaults to
// k.Alg.
func (k *jwsKey) JWS(header, claims map[string]any) (string, error) {
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

// SignRaw signs exactly header and payload.
func (k *jwsKey) SignRaw(header, payload []byte) (string, error) {
	input := jwsB64.EncodeToString(header) + "." + jwsB64.EncodeToString(payload)
	sig, err := k.Sign([]byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + jwsB64.EncodeToString(sig), nil
}

// Sign is the JWS signature of input: the hash by k.Alg's digits, PSS for
// PS*, ECDSA as r||s sized by the key's curve.
func (k *jwsKey) Sign(input []byte) ([]byte, error) {
	h := crypto.SHA256
	switch {
	case strings.HasSuffix(k.Alg, "384"):
		h = crypto.SHA384
	case strings.HasSuffix(k.Alg, "512"):
		h = crypto.SHA512
	}
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	switch s := k.Signer.(type) {
	case *ecdsa.PrivateKey:
		r, sv, err := ecdsa.Sign(rand.Reader, s, digest)
		if err != nil {
			return nil, err
		}
		return jwsECSig(s.Curve, r, sv), nil
	case *rsa.PrivateKey:
		if strings.HasPrefix(k.Alg, "PS") {
			return rsa.SignPSS(rand.Reader, s, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, s, h, digest)
	case ed25519.PrivateKey:
		return ed25519.Sign(s, input), nil
	}
	return nil, fmt.Errorf("jwsKey: unsupported key %T", k.Signer)
}

// jwsECSig is the JWS form of an ECDSA signature: r||s, each the curve's
// size.
func jwsECSig(c elliptic.Curve, r, s *big.Int) []byte {
	size := (c.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out
}

// PublicJWK is the public key's JWK members, with extra added.
func (k *jwsKey) PublicJWK(extra map[string]any) map[string]any {
	m := jwsPublicJWK(k.Signer.Public())
	for n, v := range extra {
		m[n] = v
	}
	return m
}

func jwsPublicJWK(pub crypto.PublicKey) map[string]any {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		return map[string]any{"kty": "EC", "crv": p.Curve.Params().Name,
			"x": jwsB64.EncodeToString(p.X.FillBytes(make([]byte, size))),
			"y": jwsB64.EncodeToString(p.Y.FillBytes(make([]byte, size)))}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": jwsB64.EncodeToString(p.N.Bytes()),
			"e": jwsB64.EncodeToString(big.NewInt(int64(p.E)).Bytes())}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": jwsB64.EncodeToString(p)}
	}
	panic(fmt.Sprintf("jwsPublicJWK: unsupported key %T", pub))
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of k's public key.
func (k *jwsKey) Thumbprint() string {
	m := jwsPublicJWK(k.Signer.Public())
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
	return jwsB64.EncodeToString(sum[:])
}

// jwsRandomID is a random 128-bit base64url identifier.
func jwsRandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return jwsB64.EncodeToString(b[:])
}

// jwsIssuer is an authorization server's identifier and ES256 signing key.
type jwsIssuer struct {
	URL string
	KID string
	Key *jwsKey
}

func newJWSIssuer(url string) *jwsIssuer {
	return &jwsIssuer{URL: url, KID: jwsRandomID()[:8], Key: newJWSKey("ES256")}
}

// JWKS is the issuer's public key set document.
func (i *jwsIssuer) JWKS() []byte {
	jwk := i.Key.PublicJWK(map[string]any{"kid": i.KID, "alg": i.Key.Alg, "use": "sig"})
	b, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	return b
}

// jwsTokenOptions describe an access token.
type jwsTokenOptions struct {
	Subject, ClientID, Audience, Scope string
	TTL                                time.Duration // default 5 minutes
	IssuedAt                           time.Time     // default now
	Cnf                                map[string]any
	Typ                                string // default at+jwt
	Extra                              map[string]any
}

// Token mints an access token: iss, sub, aud, client_id, iat, exp and a
// random jti, with scope and cnf when set and Extra over them all.
func (i *jwsIssuer) Token(o jwsTokenOptions) (string, error) {
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
		"iat": iat.Unix(), "exp": iat.Add(ttl).Unix(), "jti": jwsRandomID(),
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
