package sign

// Private JWKs: writing them (popctl keygen) and reading them (popctl's
// -key files, parsed by jwx).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwk"

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
// thumbprint.
//
// Parsing is github.com/lestrrat-go/jwx/v3/jwk's (as for issuer JWKS in
// validate): it checks the members, decodes base64url and builds the
// standard library key. What jwx leaves to its caller is checked here: the
// EC public point must be d·G (jwx takes x and y as given) and an RSA key
// must be consistent (rsa.PrivateKey.Validate); jwx itself checks that an
// Ed25519 x matches d.
func ParsePrivateJWK(raw []byte) (key *Key, kid string, err error) {
	set, err := jwk.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("invalid JWK: %v", err)
	}
	if set.Len() != 1 {
		return nil, "", fmt.Errorf("a JWK Set with %d keys: give a single key", set.Len())
	}
	jk, _ := set.Key(0)
	var exported any
	if err := jwk.Export(jk, &exported); err != nil {
		return nil, "", fmt.Errorf("invalid %s key: %v", jk.KeyType(), err)
	}
	var signer crypto.Signer
	var defAlg string
	switch k := exported.(type) {
	case *ecdsa.PrivateKey:
		defAlg = map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[k.Curve.Params().Name]
		if defAlg == "" {
			return nil, "", fmt.Errorf("unsupported EC curve %q", k.Curve.Params().Name)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if k.D.BitLen() > 8*size {
			return nil, "", errors.New("invalid EC private key: d is too large")
		}
		derived, err := ecdsa.ParseRawPrivateKey(k.Curve, k.D.FillBytes(make([]byte, size)))
		if err != nil {
			return nil, "", fmt.Errorf("invalid EC private key: %v", err)
		}
		if !derived.PublicKey.Equal(&k.PublicKey) {
			return nil, "", errors.New(`members "x" and "y" do not match the private key`)
		}
		signer = derived
	case *rsa.PrivateKey:
		if err := k.Validate(); err != nil {
			return nil, "", fmt.Errorf("invalid RSA private key: %v", err)
		}
		k.Precompute()
		signer, defAlg = k, "RS256"
	case ed25519.PrivateKey:
		signer, defAlg = k, "EdDSA"
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		return nil, "", errors.New("a public JWK: a private key (with d) is needed to sign; make one with popctl keygen")
	case []byte:
		return nil, "", errors.New("a symmetric (oct) key: DPoP and PoP need an asymmetric key")
	default:
		return nil, "", fmt.Errorf("unsupported %s key (%T): DPoP and PoP need an EC (P-256, P-384, P-521), RSA or Ed25519 key", jk.KeyType(), exported)
	}
	alg := defAlg
	if a, ok := jk.Algorithm(); ok && a.String() != "" {
		alg = a.String()
	}
	ja, ok := jose.LookupAlg(alg)
	if !ok {
		return nil, "", fmt.Errorf("alg %q is not a supported asymmetric algorithm", alg)
	}
	pk, err := jose.FromCrypto(signer.Public())
	if err != nil || !ja.Fits(pk) {
		return nil, "", fmt.Errorf("alg %q does not fit this %s key", alg, jk.KeyType())
	}
	key = &Key{Alg: alg, Signer: signer}
	if kid, _ = jk.KeyID(); kid == "" {
		kid = key.Thumbprint()
	}
	return key, kid, nil
}
