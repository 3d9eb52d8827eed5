package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Errors of ParseJWK. Their messages are safe to show a client.
var (
	ErrJWKPrivate     = errors.New("jwk contains private key material")
	ErrJWKSymmetric   = errors.New("jwk is a symmetric key")
	ErrJWKUnsupported = errors.New("jwk key type or curve is not supported")
	ErrJWKInvalid     = errors.New("jwk is not a valid public key")
	ErrJWKRSASize     = errors.New("jwk RSA modulus size is outside the accepted range")
)

// privateMembers are the JWK members that only private or symmetric keys
// have (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
var privateMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// KeyPolicy bounds the public keys ParseJWK accepts.
type KeyPolicy struct {
	MinRSABits int // default 2048
	MaxRSABits int // default 4096
}

func (p KeyPolicy) bounds() (int, int) {
	lo, hi := p.MinRSABits, p.MaxRSABits
	if lo == 0 {
		lo = 2048
	}
	if hi == 0 {
		hi = 4096
	}
	return lo, hi
}

// PublicKey is an imported public JWK.
type PublicKey struct {
	// Kty is EC, RSA or OKP; Crv the curve for EC and OKP.
	Kty, Crv string
	// Key is *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey.
	Key crypto.PublicKey
	// Thumbprint is the RFC 7638 SHA-256 thumbprint, base64url.
	Thumbprint string
}

// ParseJWK imports a public JWK from its raw JSON. Private members are
// checked on the raw JSON, before any key object exists, so a parser that
// drops them cannot hide them.
func ParseJWK(raw []byte, policy KeyPolicy) (*PublicKey, error) {
	members, err := ParseObject(raw)
	if err != nil {
		return nil, ErrJWKInvalid
	}
	return ImportJWK(members, policy)
}

// ImportJWK is ParseJWK for an already parsed object.
func ImportJWK(members []Member, policy KeyPolicy) (*PublicKey, error) {
	var kty, crv, x, y, n, e string
	for _, m := range members {
		for _, pm := range privateMembers {
			if m.Name == pm {
				if m.Name == "k" {
					return nil, ErrJWKSymmetric
				}
				return nil, ErrJWKPrivate
			}
		}
		var ok = true
		switch m.Name {
		case "kty":
			kty, ok = String(m.Value)
		case "crv":
			crv, ok = String(m.Value)
		case "x":
			x, ok = String(m.Value)
		case "y":
			y, ok = String(m.Value)
		case "n":
			n, ok = String(m.Value)
		case "e":
			e, ok = String(m.Value)
		}
		if !ok {
			return nil, ErrJWKInvalid
		}
	}
	switch kty {
	case "EC":
		return importEC(crv, x, y)
	case "RSA":
		return importRSA(n, e, policy)
	case "OKP":
		return importOKP(crv, x)
	case "oct":
		return nil, ErrJWKSymmetric
	}
	return nil, ErrJWKUnsupported
}

func curveFor(crv string) (elliptic.Curve, int) {
	switch crv {
	case "P-256":
		return elliptic.P256(), 32
	case "P-384":
		return elliptic.P384(), 48
	case "P-521":
		return elliptic.P521(), 66
	}
	return nil, 0
}

func importEC(crv, x, y string) (*PublicKey, error) {
	curve, size := curveFor(crv)
	if curve == nil {
		return nil, ErrJWKUnsupported
	}
	// IsB64URL first: encoding/base64 skips CR and LF even in strict mode,
	// and the thumbprint is taken over the members as sent.
	if !IsB64URL(x) || !IsB64URL(y) || b64.DecodedLen(len(x)) != size || b64.DecodedLen(len(y)) != size {
		return nil, ErrJWKInvalid
	}
	var point [1 + 2*66]byte
	point[0] = 4
	if n, err := b64.Decode(point[1:], []byte(x)); err != nil || n != size {
		return nil, ErrJWKInvalid
	}
	if n, err := b64.Decode(point[1+size:], []byte(y)); err != nil || n != size {
		return nil, ErrJWKInvalid
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point[:1+2*size])
	if err != nil {
		return nil, ErrJWKInvalid
	}
	tp := thumbprint(`{"crv":"`, crv, `","kty":"EC","x":"`, x, `","y":"`, y, `"}`)
	return &PublicKey{Kty: "EC", Crv: crv, Key: pub, Thumbprint: tp}, nil
}

func importRSA(n, e string, policy KeyPolicy) (*PublicKey, error) {
	if n == "" || e == "" {
		return nil, ErrJWKInvalid
	}
	// The size bound before any decoding: the modulus comes from the caller.
	if _, hi := policy.bounds(); b64.DecodedLen(len(n)) > hi/8+1 {
		return nil, ErrJWKRSASize
	}
	if !IsB64URL(n) || !IsB64URL(e) {
		return nil, ErrJWKInvalid // see importEC
	}
	nb, err := b64.DecodeString(n)
	if err != nil || len(nb) == 0 || nb[0] == 0 {
		// A leading zero octet is not the minimal encoding (RFC 7518 §6.3.1.1).
		return nil, ErrJWKInvalid
	}
	eb, err := b64.DecodeString(e)
	if err != nil || len(eb) == 0 || len(eb) > 4 || eb[0] == 0 {
		return nil, ErrJWKInvalid
	}
	var ev int
	for _, c := range eb {
		ev = ev<<8 | int(c)
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: ev}
	if err := policy.Check(key); err != nil {
		return nil, err
	}
	tp := thumbprint(`{"e":"`, e, `","kty":"RSA","n":"`, n, `"}`)
	return &PublicKey{Kty: "RSA", Key: key, Thumbprint: tp}, nil
}

func importOKP(crv, x string) (*PublicKey, error) {
	if crv != "Ed25519" {
		return nil, ErrJWKUnsupported
	}
	if !IsB64URL(x) {
		return nil, ErrJWKInvalid
	}
	kb, err := b64.DecodeString(x)
	if err != nil || len(kb) != ed25519.PublicKeySize {
		return nil, ErrJWKInvalid
	}
	tp := thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"`, x, `"}`)
	return &PublicKey{Kty: "OKP", Crv: crv, Key: ed25519.PublicKey(kb), Thumbprint: tp}, nil
}

// thumbprint hashes the concatenation of parts: the RFC 7638 canonical JSON
// of the required members, in lexicographic order, without whitespace. The
// member values are base64url and curve names, which need no escaping.
func thumbprint(parts ...string) string {
	var buf [256]byte // an EC or OKP input fits; an RSA one grows on the heap
	in := buf[:0]
	for _, p := range parts {
		in = append(in, p...)
	}
	sum := sha256.Sum256(in)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ThumbprintURI returns the RFC 9278 URI for an RFC 7638 SHA-256 thumbprint.
func ThumbprintURI(tp string) string {
	return "urn:ietf:params:oauth:jwk-thumbprint:sha-256:" + tp
}

// B64Equal reports whether b64 is the unpadded base64url encoding of sum
// (HashB64 of what sum is the digest of), without allocating the encoding:
// the ath check of every DPoP request.
func B64Equal(sum *[sha256.Size]byte, b64 []byte) bool {
	if len(b64) != 43 {
		return false
	}
	var out [43]byte
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:]) == string(b64)
}

// HashB64 returns base64url(SHA-256(s)) without padding, as used by ath and
// the SHR q, h and b claims.
func HashB64(s string) string {
	sum := SHA256String(s)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// IsB64URL reports whether s is non-empty unpadded base64url.
func IsB64URL(s string) bool {
	if s == "" {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(('A' <= r && r <= 'Z') || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r == '-' || r == '_')
	})
}

// GenerateKey returns a new private key for the JWS algorithm alg: ES256,
// ES384, ES512 (their curves), RS256..RS512 and PS256..PS512 (2048-bit
// RSA), or EdDSA (Ed25519, also named so).
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA", "Ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unsupported alg %q", alg)
}
