package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
)

// Errors of Verify. Their messages are safe to show a client.
var (
	ErrAlgUnknown   = errors.New("alg is not a supported asymmetric signature algorithm")
	ErrAlgKey       = errors.New("alg does not match the key type")
	ErrBadSignature = errors.New("signature is invalid")
)

// Alg describes one JWS signature algorithm.
type Alg struct {
	Name string
	kty  string // EC, RSA, OKP
	crv  string // for EC: the one curve the alg may use (RFC 7518 §3.4)
	hash crypto.Hash
	pss  bool
}

var algs = map[string]*Alg{
	"ES256":   {Name: "ES256", kty: "EC", crv: "P-256", hash: crypto.SHA256},
	"ES384":   {Name: "ES384", kty: "EC", crv: "P-384", hash: crypto.SHA384},
	"ES512":   {Name: "ES512", kty: "EC", crv: "P-521", hash: crypto.SHA512},
	"RS256":   {Name: "RS256", kty: "RSA", hash: crypto.SHA256},
	"RS384":   {Name: "RS384", kty: "RSA", hash: crypto.SHA384},
	"RS512":   {Name: "RS512", kty: "RSA", hash: crypto.SHA512},
	"PS256":   {Name: "PS256", kty: "RSA", hash: crypto.SHA256, pss: true},
	"PS384":   {Name: "PS384", kty: "RSA", hash: crypto.SHA384, pss: true},
	"PS512":   {Name: "PS512", kty: "RSA", hash: crypto.SHA512, pss: true},
	"EdDSA":   {Name: "EdDSA", kty: "OKP", crv: "Ed25519"},
	"Ed25519": {Name: "Ed25519", kty: "OKP", crv: "Ed25519"},
}

// LookupAlg returns the asymmetric algorithm called name. "none", HMAC and
// unknown names are not found.
func LookupAlg(name string) (*Alg, bool) {
	a, ok := algs[name]
	return a, ok
}

// Fits reports whether the algorithm may be used with key (RFC 8725 §3.1:
// one key, one algorithm family; ES* pinned to its curve).
func (a *Alg) Fits(key *PublicKey) bool {
	return a.kty == key.Kty && (a.crv == "" || a.crv == key.Crv)
}

// Verify checks sig over signingInput with key under alg. ECDSA signatures
// must be the fixed-size R||S form of RFC 7518 §3.4 (DER is rejected) and R
// and S must be in [1, n-1] (the standard library enforces the range, which
// stops the CVE-2022-21449 class of "psychic" signatures).
func Verify(alg *Alg, key *PublicKey, signingInput string, sig []byte) error {
	if !alg.Fits(key) {
		return ErrAlgKey
	}
	switch k := key.Key.(type) {
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return ErrBadSignature
		}
		// One buffer for the digest and the DER signature: VerifyASN1's
		// parameters escape, so each would otherwise be its own allocation.
		buf := make([]byte, 0, sha512.Size+maxDERSignature)
		d := digest(alg.hash, signingInput, buf)
		if !ecdsa.VerifyASN1(k, d, appendDERSignature(d[len(d):], sig[:size], sig[size:])) {
			return ErrBadSignature
		}
		return nil
	case *rsa.PublicKey:
		var sum [sha512.Size]byte
		digest := digest(alg.hash, signingInput, sum[:0])
		var err error
		if alg.pss {
			err = rsa.VerifyPSS(k, alg.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, alg.hash, digest, sig)
		}
		if err != nil {
			return ErrBadSignature
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(k, []byte(signingInput), sig) {
			return ErrBadSignature
		}
		return nil
	}
	return ErrAlgKey
}

// digest appends the hash of s with h (SHA-256, SHA-384 or SHA-512) to out.
func digest(h crypto.Hash, s string, out []byte) []byte {
	switch h {
	case crypto.SHA256:
		sum := SHA256String(s)
		return append(out, sum[:]...)
	case crypto.SHA384:
		sum := sha512.Sum384([]byte(s))
		return append(out, sum[:]...)
	}
	sum := sha512.Sum512([]byte(s))
	return append(out, sum[:]...)
}

// SHA256String returns SHA-256(s). Unlike sha256.Sum256([]byte(s)), it does
// not copy s to the heap: it hashes s through a stack buffer, and the
// hash's state stays on the stack.
func SHA256String(s string) [sha256.Size]byte {
	h := sha256.New()
	var buf [512]byte
	for len(s) > 0 {
		n := copy(buf[:], s)
		h.Write(buf[:n])
		s = s[n:]
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// maxDERSignature is the longest DER ECDSA signature of the curves Verify
// accepts: P-521's, two 66-byte integers with a sign byte each.
const maxDERSignature = 3 + 2*(2+66+1)

// DERSignature encodes R and S (big-endian, fixed size) as the ASN.1
// SEQUENCE of two INTEGERs that crypto/ecdsa verifies.
func DERSignature(r, s []byte) []byte { return appendDERSignature(nil, r, s) }

// appendDERSignature appends DERSignature(r, s) to out.
func appendDERSignature(out, r, s []byte) []byte {
	r, s = trimInt(r), trimInt(s)
	rl, sl := intLen(r), intLen(s)
	body := 2 + rl + 2 + sl
	out = append(out, 0x30)
	if body >= 0x80 {
		out = append(out, 0x81)
	}
	out = append(out, byte(body))
	out = appendInt(out, r)
	out = appendInt(out, s)
	return out
}

func trimInt(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func intLen(b []byte) int {
	if b[0]&0x80 != 0 {
		return len(b) + 1
	}
	return len(b)
}

func appendInt(out, b []byte) []byte {
	out = append(out, 0x02, byte(intLen(b)))
	if b[0]&0x80 != 0 {
		out = append(out, 0)
	}
	return append(out, b...)
}

// HMACHash returns the hash of an HMAC JWS algorithm (HS256, HS384, HS512).
func HMACHash(alg string) (crypto.Hash, bool) {
	switch alg {
	case "HS256":
		return crypto.SHA256, true
	case "HS384":
		return crypto.SHA384, true
	case "HS512":
		return crypto.SHA512, true
	}
	return 0, false
}

// VerifyHMAC checks an HMAC JWS signature in constant time.
func VerifyHMAC(h crypto.Hash, secret []byte, signingInput string, sig []byte) error {
	m := hmac.New(h.New, secret)
	m.Write([]byte(signingInput))
	if !hmac.Equal(m.Sum(nil), sig) {
		return ErrBadSignature
	}
	return nil
}

// IssuerKeys is the policy for keys an issuer publishes in its JWKS: RSA
// moduli of 2048 to 8192 bits (some issuers use 4096; none needs more), with
// the exponent bounds of every RSA key.
var IssuerKeys = KeyPolicy{MinRSABits: 2048, MaxRSABits: 8192}

// Check applies the policy to a standard library public key: for RSA, the
// modulus size and an odd exponent in [3, 65537] (as ParseJWK does for
// JWKs); other key types pass.
func (p KeyPolicy) Check(k crypto.PublicKey) error {
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil
	}
	lo, hi := p.bounds()
	if bits := rk.N.BitLen(); bits < lo || bits > hi {
		return ErrJWKRSASize
	}
	// Public exponents above 65537 only make verification slower (for a
	// proof key, the caller picks it): no real key uses them.
	if rk.E < 3 || rk.E%2 == 0 || rk.E > 65537 {
		return ErrJWKInvalid
	}
	return nil
}

// FromCrypto wraps a standard library public key for Verify.
func FromCrypto(k crypto.PublicKey) (*PublicKey, error) {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		name := k.Curve.Params().Name
		if c, _ := curveFor(name); c == nil {
			return nil, ErrJWKUnsupported
		}
		return &PublicKey{Kty: "EC", Crv: name, Key: k}, nil
	case *rsa.PublicKey:
		return &PublicKey{Kty: "RSA", Key: k}, nil
	case ed25519.PublicKey:
		return &PublicKey{Kty: "OKP", Crv: "Ed25519", Key: k}, nil
	}
	return nil, ErrJWKUnsupported
}
