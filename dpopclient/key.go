package dpopclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/popguard/popguard/internal/clientkey"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/sign"
)

// ErrKey is matched (errors.Is) by every error about a key: an unknown
// algorithm, an algorithm that does not fit the key, or a file that holds no
// usable private key.
var ErrKey = errors.New("dpopclient: unusable key")

// Key is a private signing key with its JWS algorithm. It signs DPoP proofs,
// Microsoft PoP signed HTTP requests and private_key_jwt client assertions;
// nothing in this package writes the private key anywhere.
//
// A Key is safe for concurrent use.
type Key struct {
	k          *sign.Key
	kid        string
	thumbprint string
}

// GenerateKey returns a new key for alg: ES256 (the default, used when alg
// is empty), ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512 (RSA
// keys are 2048 bits) or EdDSA (Ed25519). popguard's validator accepts
// ES256, PS256, RS256 and EdDSA proofs by default
// (validate.DefaultProofAlgs).
func GenerateKey(alg string) (*Key, error) {
	if alg == "" {
		alg = "ES256"
	}
	if _, ok := jose.LookupAlg(alg); !ok {
		return nil, fmt.Errorf("%w: alg %q is not a supported asymmetric algorithm", ErrKey, alg)
	}
	k, err := sign.NewKey(alg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return wrap(k, ""), nil
}

// NewKey returns a Key that signs with signer under alg. signer may be a
// standard library private key or any crypto.Signer (a hardware or cloud
// KMS key) whose public key is ECDSA, RSA or Ed25519. alg must fit the key:
// ES256 needs P-256, PS*/RS* an RSA key of 2048 bits or more, EdDSA Ed25519.
func NewKey(signer crypto.Signer, alg string) (*Key, error) {
	if signer == nil {
		return nil, fmt.Errorf("%w: nil signer", ErrKey)
	}
	ja, ok := jose.LookupAlg(alg)
	if !ok {
		return nil, fmt.Errorf("%w: alg %q is not a supported asymmetric algorithm", ErrKey, alg)
	}
	pk, err := jose.FromCrypto(signer.Public())
	if err != nil || !ja.Fits(pk) {
		return nil, fmt.Errorf("%w: alg %q does not fit a %T", ErrKey, alg, signer.Public())
	}
	if err := (jose.KeyPolicy{}).Check(signer.Public()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return wrap(&sign.Key{Alg: alg, Signer: signer}, ""), nil
}

// LoadKey reads a private key from a file: a private JWK (as popctl keygen
// writes), a JWK Set holding one key, or PEM (PKCS #8 "PRIVATE KEY", SEC 1
// "EC PRIVATE KEY" or PKCS #1 "RSA PRIVATE KEY"). See ParseKey.
func LoadKey(path string) (*Key, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseKey reads a private key as LoadKey does. The algorithm is the JWK's
// alg member when it has one; otherwise ES256, ES384 or ES512 by curve,
// RS256 for RSA and EdDSA for Ed25519 (use NewKey for another choice).
func ParseKey(data []byte) (*Key, error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "{") {
		k, kid, err := sign.ParsePrivateJWK(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		if err := (jose.KeyPolicy{}).Check(k.Signer.Public()); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		return wrap(k, kid), nil
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: neither a JWK nor PEM", ErrKey)
	}
	var parsed any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a private key", ErrKey, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey:
		alg := map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[k.Curve.Params().Name]
		return NewKey(k, alg)
	case *rsa.PrivateKey:
		return NewKey(k, "RS256")
	case ed25519.PrivateKey:
		return NewKey(k, "EdDSA")
	}
	return nil, fmt.Errorf("%w: unsupported key type %T", ErrKey, parsed)
}

func wrap(k *sign.Key, kid string) *Key {
	tp := k.Thumbprint()
	if kid == "" {
		kid = tp
	}
	return &Key{k: k, kid: kid, thumbprint: tp}
}

// Alg returns the key's JWS algorithm.
func (k *Key) Alg() string { return k.k.Alg }

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.k.Signer.Public() }

// KeyID returns the kid of PublicJWK: the JWK's own kid when the key was
// loaded from one, else the thumbprint.
func (k *Key) KeyID() string { return k.kid }

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key, the
// value of cnf.jkt in the access tokens bound to it.
func (k *Key) Thumbprint() string { return k.thumbprint }

// PublicJWK returns the public key as a JWK (JSON), with kid (the JWK's own
// kid when the key was loaded from one, else the thumbprint), alg and use,
// for registering the key at an authorization server (private_key_jwt).
func (k *Key) PublicJWK() []byte {
	b, _ := json.Marshal(k.k.PublicJWK(map[string]any{"kid": k.kid, "alg": k.k.Alg, "use": "sig"}))
	return b
}

// NewProof returns a DPoP proof (RFC 9449 §4.2) for a request with method to
// target: htu is target without its query and fragment, jti is random and
// iat is now. accessToken, when not empty, sets ath; nonce, when not empty,
// sets nonce.
func (k *Key) NewProof(method, target, accessToken, nonce string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", ErrURL
	}
	return k.k.Proof(method, htuOf(u), sign.ProofOptions{AccessToken: accessToken, Nonce: nonce})
}

func init() {
	clientkey.Unwrap = func(key any) *sign.Key {
		if k, ok := key.(*Key); ok && k != nil {
			return k.k
		}
		return nil
	}
}
