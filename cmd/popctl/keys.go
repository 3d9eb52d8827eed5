package main

// Keys: generating, writing and loading private JWKs, thumbprints and JWK
// Sets.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"

	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/sign"
)

var b64 = base64.RawURLEncoding

// keygenAlgs are the algorithms keygen offers.
var keygenAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// privateKey is a loaded private JWK.
type privateKey struct {
	*sign.Key
	KID string
}

// privateJWK returns the private JWK members of k, with alg and kid.
func privateJWK(k *sign.Key, kid string) (map[string]any, error) {
	m := sign.PublicJWKOf(k.Signer.Public())
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

// loadKey reads a private JWK (or a JWK Set holding exactly one key) from
// path. alg defaults by key type (ES256/ES384/ES512 by curve, RS256, EdDSA);
// kid defaults to the RFC 7638 thumbprint.
func loadKey(path string) (*privateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := parsePrivateJWK(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func parsePrivateJWK(raw []byte) (*privateKey, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if keys, ok := m["keys"].([]any); ok {
		if len(keys) != 1 {
			return nil, fmt.Errorf("a JWK Set with %d keys: give a single key", len(keys))
		}
		if m, ok = keys[0].(map[string]any); !ok {
			return nil, errors.New("the JWK Set's key is not an object")
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
		return nil, errors.New("not a JWK (no kty)")
	}
	if str("d") == "" {
		if str("kty") == "oct" {
			return nil, errors.New("a symmetric (oct) key: DPoP and PoP need an asymmetric key")
		}
		return nil, errors.New("a public JWK: a private key (with d) is needed to sign; make one with popctl keygen")
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
			return nil, fmt.Errorf("unsupported EC curve %q", str("crv"))
		}
		d, err := b64.DecodeString(strings.TrimRight(str("d"), "="))
		if err != nil {
			return nil, errors.New(`member "d" is not base64url`)
		}
		priv, err := ecdsa.ParseRawPrivateKey(curve, d)
		if err != nil {
			return nil, fmt.Errorf("invalid EC private key: %v", err)
		}
		signer = priv
	case "RSA":
		defAlg = "RS256"
		var parts [5]*big.Int
		for i, name := range []string{"n", "e", "d", "p", "q"} {
			v, err := num(name)
			if err != nil {
				if name == "p" || name == "q" {
					return nil, errors.New("RSA private keys need p and q")
				}
				return nil, err
			}
			parts[i] = v
		}
		if !parts[1].IsInt64() || parts[1].Int64() > 1<<31-1 {
			return nil, errors.New("RSA exponent e is out of range")
		}
		priv := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: parts[0], E: int(parts[1].Int64())},
			D:         parts[2], Primes: []*big.Int{parts[3], parts[4]},
		}
		if err := priv.Validate(); err != nil {
			return nil, fmt.Errorf("invalid RSA private key: %v", err)
		}
		priv.Precompute()
		signer = priv
	case "OKP":
		if str("crv") != "Ed25519" {
			return nil, fmt.Errorf("unsupported OKP curve %q (only Ed25519)", str("crv"))
		}
		defAlg = "EdDSA"
		seed, err := b64.DecodeString(strings.TrimRight(str("d"), "="))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, errors.New(`member "d" is not a 32-byte Ed25519 seed`)
		}
		signer = ed25519.NewKeyFromSeed(seed)
	default:
		return nil, fmt.Errorf("unsupported key type %q", kty)
	}
	// The public members, when present, must be those of the private key.
	pub := sign.PublicJWKOf(signer.Public())
	for name, want := range pub {
		if got := str(name); got != "" && strings.TrimRight(got, "=") != want {
			return nil, fmt.Errorf("member %q does not match the private key", name)
		}
	}
	alg := str("alg")
	if alg == "" {
		alg = defAlg
	}
	ja, ok := jose.LookupAlg(alg)
	if !ok {
		return nil, fmt.Errorf("alg %q is not a supported asymmetric algorithm", alg)
	}
	pk, err := jose.FromCrypto(signer.Public())
	if err != nil || !ja.Fits(pk) {
		return nil, fmt.Errorf("alg %q does not fit this %s key", alg, str("kty"))
	}
	k := &privateKey{Key: &sign.Key{Alg: alg, Signer: signer}, KID: str("kid")}
	if k.KID == "" {
		k.KID = k.Thumbprint()
	}
	return k, nil
}

// publicJWK returns the public JWK of k with kid, alg and use.
func (k *privateKey) publicJWK() map[string]any {
	return k.PublicJWK(map[string]any{"kid": k.KID, "alg": k.Alg, "use": "sig"})
}

func marshalIndent(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

const keygenHelp = `
Usage: popctl keygen [-alg ES256] [-out key.json]

Generates a key pair and writes the private JWK (with alg, and kid = its
RFC 7638 thumbprint) to -out, created with mode 0600, or to stdout. The
public JWK and the thumbprint go to stderr. Keep the private JWK secret.

Algorithms: ES256 (default), ES384, ES512, RS256, RS384, RS512, PS256,
PS384, PS512 (RSA keys are 2048 bits), EdDSA (Ed25519). Microsoft PoP (SHR)
verifiers accept RS256, PS256 and ES256 by default.

Examples:
  popctl keygen -out client.json
  popctl keygen -alg PS256 -out issuer.json
  popctl keygen -alg EdDSA > key.json
`

func runKeygen(e *env, args []string) int {
	fs := newFlags("keygen", keygenHelp)
	alg := fs.String("alg", "ES256", "signature algorithm: "+strings.Join(keygenAlgs, ", "))
	out := fs.String("out", "", "write the private JWK to this file (mode 0600) instead of stdout")
	pos, code, done := parseFlags(e, fs, args)
	if done {
		return code
	}
	if len(pos) > 0 {
		return e.errorf(exitUsage, "keygen", "unexpected argument %q", pos[0])
	}
	if *alg == "Ed25519" {
		*alg = "EdDSA"
	}
	if !slices.Contains(keygenAlgs, *alg) {
		return e.errorf(exitUsage, "keygen", "unsupported -alg %q (one of %s)", *alg, strings.Join(keygenAlgs, ", "))
	}
	k, err := sign.NewKey(*alg)
	if err != nil {
		return e.errorf(exitUsage, "keygen", "%v", err)
	}
	pk := &privateKey{Key: k, KID: k.Thumbprint()}
	priv, err := privateJWK(k, pk.KID)
	if err != nil {
		return e.errorf(exitUsage, "keygen", "%v", err)
	}
	doc := marshalIndent(priv)
	if *out == "" {
		_, _ = e.stdout.Write(doc)
	} else {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return e.errorf(exitUsage, "keygen", "%s exists; not overwriting a key", *out)
		}
		if err != nil {
			return e.errorf(exitUsage, "keygen", "%v", err)
		}
		_, werr := f.Write(doc)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return e.errorf(exitUsage, "keygen", "%v", werr)
		}
	}
	pubDoc, _ := json.Marshal(pk.publicJWK())
	fmt.Fprintf(e.stderr, "public JWK: %s\nthumbprint: %s\n", pubDoc, pk.KID)
	return exitOK
}

const thumbprintHelp = `
Usage: popctl thumbprint [-uri] FILE|-

Prints the RFC 7638 SHA-256 thumbprint of a JWK: the value of a DPoP-bound
token's cnf.jkt, and of an Entra ID PoP token's cnf.kid. Public and private
JWKs give the same thumbprint (only the required public members are hashed;
alg, kid and the private members are not). A JWK Set prints one line per key.
"-" reads stdin.

Examples:
  popctl thumbprint client.json
  popctl thumbprint -uri client.json        # urn:ietf:params:oauth:jwk-thumbprint:sha-256:...
  echo '{"kty":"EC","crv":"P-256","x":"...","y":"..."}' | popctl thumbprint -
`

func runThumbprint(e *env, args []string) int {
	fs := newFlags("thumbprint", thumbprintHelp)
	uri := fs.Bool("uri", false, "print the RFC 9278 URN form")
	pos, code, done := parseFlags(e, fs, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		return e.errorf(exitUsage, "thumbprint", "need exactly one FILE (or - for stdin)")
	}
	raw, err := readInput(e, pos[0])
	if err != nil {
		return e.errorf(exitUsage, "thumbprint", "%v", err)
	}
	var keys []json.RawMessage
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(raw, &set) == nil && set.Keys != nil {
		keys = set.Keys
	} else {
		keys = []json.RawMessage{raw}
	}
	for _, k := range keys {
		tp, err := jwkThumbprint(k)
		if err != nil {
			return e.errorf(exitUsage, "thumbprint", "%v", err)
		}
		if *uri {
			tp = jose.ThumbprintURI(tp)
		}
		fmt.Fprintln(e.stdout, tp)
	}
	return exitOK
}

// privateJWKMembers are dropped before a thumbprint is taken.
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth"}

// jwkThumbprint returns the RFC 7638 SHA-256 thumbprint of a JWK, public or
// private (oct keys too).
func jwkThumbprint(raw []byte) (string, error) {
	members, err := jose.ParseObject(raw)
	if err != nil {
		return "", fmt.Errorf("not a JWK: %v", err)
	}
	pub := members[:0:0]
	for _, m := range members {
		if !slices.Contains(privateJWKMembers, m.Name) {
			pub = append(pub, m)
		}
	}
	if v, ok := jose.Lookup(pub, "kty"); ok {
		if kty, _ := jose.String(v); kty == "oct" {
			kv, _ := jose.Lookup(pub, "k")
			k, ok := jose.String(kv)
			if !ok || k == "" {
				return "", errors.New("oct JWK without k")
			}
			canon, _ := json.Marshal(k)
			return jose.HashB64(`{"k":` + string(canon) + `,"kty":"oct"}`), nil
		}
	}
	key, err := jose.ImportJWK(pub, jose.KeyPolicy{MinRSABits: 512, MaxRSABits: 16384})
	if err != nil {
		return "", err
	}
	return key.Thumbprint, nil
}

const jwksHelp = `
Usage: popctl jwks -key key.json [-key key2.json ...]

Prints the public JWK Set of the given private keys (kid, alg and use=sig
from each key), as an issuer publishes it: give it to examples/server with
-jwks FILE, or to popctl inspect -jwks FILE.

Examples:
  popctl jwks -key issuer.json > jwks.json
  popctl jwks -key old.json -key new.json   # during a key rotation
`

func runJWKS(e *env, args []string) int {
	fs := newFlags("jwks", jwksHelp)
	var keys stringList
	fs.Var(&keys, "key", "private JWK file (repeatable)")
	pos, code, done := parseFlags(e, fs, args)
	if done {
		return code
	}
	keys = append(keys, pos...)
	if len(keys) == 0 {
		return e.errorf(exitUsage, "jwks", "-key is required")
	}
	set := []any{}
	for _, path := range keys {
		k, err := loadKey(path)
		if err != nil {
			return e.errorf(exitUsage, "jwks", "%v", err)
		}
		set = append(set, k.publicJWK())
	}
	_, _ = e.stdout.Write(marshalIndent(map[string]any{"keys": set}))
	return exitOK
}
