package sign

// Private JWKs: reading them (popctl's -key files) and writing them
// (popctl keygen).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/popguard/popguard/internal/jose"
)

// PrivateJWK returns the private JWK members of k, with alg and kid.
func (k *Key) PrivateJWK(kid string) (map[string]any, error) {
	m := PublicJWKOf(k.Signer.Public())
	if m == nil {
		return nil, fmt.Errorf("unsupported key type %T", k.Signer)
	}
	switch s := k.Signer.(type) {
	case *ecdsa.PrivateKey:
		d, err := s.Bytes()
		if err != nil {
			return nil, err
		}
		m["d"] = b64.EncodeToString(d)
	case *rsa.PrivateKey:
		if len(s.Primes) != 2 {
			return nil, errors.New("multi-prime RSA keys are not supported")
		}
		s.Precompute()
		m["d"] = b64.EncodeToString(s.D.Bytes())
		m["p"] = b64.EncodeToString(s.Primes[0].Bytes())
		m["q"] = b64.EncodeToString(s.Primes[1].Bytes())
		m["dp"] = b64.EncodeToString(s.Precomputed.Dp.Bytes())
		m["dq"] = b64.EncodeToString(s.Precomputed.Dq.Bytes())
		m["qi"] = b64.EncodeToString(s.Precomputed.Qinv.Bytes())
	case ed25519.PrivateKey:
		m["d"] = b64.EncodeToString(s.Seed())
	default:
		return nil, fmt.Errorf("unsupported key type %T", k.Signer)
	}
	m["alg"] = k.Alg
	m["kid"] = kid
	return m, nil
}

// ParsePrivateJWK reads a private JWK, or a JWK Set holding exactly one
// key, and returns the key and its kid. alg defaults by key type
// (ES256/ES384/ES512 by curve, RS256, EdDSA); kid defaults to the RFC 7638
// thumbprint. The public members, when present, must be those of the
// private key.
func ParsePrivateJWK(raw []byte) (key *Key, kid string, err error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", fmt.Errorf("not a JSON object: %v", err)
	}
	if keys, ok := m["keys"].([]any); ok {
		if len(keys) != 1 {
			return nil, "", fmt.Errorf("a JWK Set with %d keys: give a single key", len(keys))
		}
		if m, ok = keys[0].(map[string]any); !ok {
			return nil, "", errors.New("the JWK Set's key is not an object")
		}
	}
	str := func(name string) string { s, _ := m[name].(string); return s }
	num := func(name string) (*big.Int, error) {
		s := str(name)
		if s == "" {
			return nil, fmt.Errorf("member %q is missing", name)
		}
		b, err := b64.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return nil, fmt.Errorf("member %q is not base64url", name)
		}
		return new(big.Int).SetBytes(b), nil
	}
	if str("kty") == "" {
		return nil, "", errors.New("not a JWK (no kty)")
	}
	if str("d") == "" {
		if str("kty") == "oct" {
			return nil, "", errors.New("a symmetric (oct) key: DPoP and PoP need an asymmetric key")
		}
		return nil, "", errors.New("a public JWK: a private key (with d) is needed to sign; make one with popctl keygen")
	}
	var signer crypto.Signer
	var defAlg string
	switch kty := str("kty"); kty {
	case "EC":
		var curve elliptic.Curve
		switch str("crv") {
		case "P-256":
			curve, defAlg = elliptic.P256(), "ES256"
		case "P-384":
			curve, defAlg = elliptic.P384(), "ES384"
		case "P-521":
			curve, defAlg = elliptic.P521(), "ES512"
		default:
			return nil, "", fmt.Errorf("unsupported EC curve %q", str("crv"))
		}
		d, err := b64.DecodeString(strings.TrimRight(str("d"), "="))
		if err != nil {
			return nil, "", errors.New(`member "d" is not base64url`)
		}
		priv, err := ecdsa.ParseRawPrivateKey(curve, d)
		if err != nil {
			return nil, "", fmt.Errorf("invalid EC private key: %v", err)
		}
		signer = priv
	case "RSA":
		defAlg = "RS256"
		var parts [5]*big.Int
		for i, name := range []string{"n", "e", "d", "p", "q"} {
			v, err := num(name)
			if err != nil {
				if name == "p" || name == "q" {
					return nil, "", errors.New("RSA private keys need p and q")
				}
				return nil, "", err
			}
			parts[i] = v
		}
		if !parts[1].IsInt64() || parts[1].Int64() > 1<<31-1 {
			return nil, "", errors.New("RSA exponent e is out of range")
		}
		priv := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: parts[0], E: int(parts[1].Int64())},
			D:         parts[2], Primes: []*big.Int{parts[3], parts[4]},
		}
		if err := priv.Validate(); err != nil {
			return nil, "", fmt.Errorf("invalid RSA private key: %v", err)
		}
		priv.Precompute()
		signer = priv
	case "OKP":
		if str("crv") != "Ed25519" {
			return nil, "", fmt.Errorf("unsupported OKP curve %q (only Ed25519)", str("crv"))
		}
		defAlg = "EdDSA"
		seed, err := b64.DecodeString(strings.TrimRight(str("d"), "="))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, "", errors.New(`member "d" is not a 32-byte Ed25519 seed`)
		}
		signer = ed25519.NewKeyFromSeed(seed)
	default:
		return nil, "", fmt.Errorf("unsupported key type %q", kty)
	}
	// The public members, when present, must be those of the private key.
	pub := PublicJWKOf(signer.Public())
	for name, want := range pub {
		if got := str(name); got != "" && strings.TrimRight(got, "=") != want {
			return nil, "", fmt.Errorf("member %q does not match the private key", name)
		}
	}
	alg := str("alg")
	if alg == "" {
		alg = defAlg
	}
	ja, ok := jose.LookupAlg(alg)
	if !ok {
		return nil, "", fmt.Errorf("alg %q is not a supported asymmetric algorithm", alg)
	}
	pk, err := jose.FromCrypto(signer.Public())
	if err != nil || !ja.Fits(pk) {
		return nil, "", fmt.Errorf("alg %q does not fit this %s key", alg, str("kty"))
	}
	key = &Key{Alg: alg, Signer: signer}
	if kid = str("kid"); kid == "" {
		kid = key.Thumbprint()
	}
	return key, kid, nil
}
