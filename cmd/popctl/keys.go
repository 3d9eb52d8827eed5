package main

// Keys: generating and writing private JWKs (with
// github.com/lestrrat-go/jwx/v3/jwk), loading them (dpopclient.LoadKey, which
// also reads PEM), thumbprints and JWK Sets. A loaded key signs through
// poptest (tokens, proofs, SHRs).

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// keygenAlgs are the algorithms keygen offers.
var keygenAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// privateKey is a loaded (or generated) private key. signer is set only for
// a generated key, whose private JWK keygen writes.
type privateKey struct {
	Alg    string
	KID    string
	signer crypto.Signer
	client *poptest.Client // signs with the key
}

// loadKey reads a private key from path as dpopclient.LoadKey does: a
// private JWK (as keygen writes it), a JWK Set holding one key, or PEM.
func loadKey(path string) (*privateKey, error) {
	dk, err := dpopclient.LoadKey(path)
	if err != nil {
		return nil, err
	}
	return fromClientKey(dk), nil
}

// parseKey reads a private key as loadKey does (dpopclient.ParseKey).
func parseKey(raw []byte) (*privateKey, error) {
	dk, err := dpopclient.ParseKey(raw)
	if err != nil {
		return nil, err
	}
	return fromClientKey(dk), nil
}

// fromClientKey is a loaded key: it signs through poptest and never
// exports its private part (only keygen, which holds the signer, does).
func fromClientKey(dk *dpopclient.Key) *privateKey {
	return &privateKey{Alg: dk.Alg(), KID: dk.KeyID(), client: poptest.NewClientWithKey(dk)}
}

// newPrivateKey wraps signer; kid defaults to the thumbprint.
func newPrivateKey(signer crypto.Signer, alg, kid string) (*privateKey, error) {
	dk, err := dpopclient.NewKey(signer, alg)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		kid = dk.Thumbprint()
	}
	return &privateKey{Alg: alg, KID: kid, signer: signer, client: poptest.NewClientWithKey(dk)}, nil
}

// generateKey returns a new key for one of keygenAlgs.
func generateKey(alg string) (*privateKey, error) {
	s, err := jose.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	return newPrivateKey(s, alg, "")
}

// Thumbprint returns the RFC 7638 thumbprint of the public key.
func (k *privateKey) Thumbprint() string { return k.client.Thumbprint() }

// PublicJWK returns the public JWK members, plus extra.
func (k *privateKey) PublicJWK(extra map[string]any) map[string]any {
	m := k.client.JWK()
	maps.Copy(m, extra)
	return m
}

// PrivateJWK returns the private JWK members of k (serialized by jwx), with
// alg and kid.
func (k *privateKey) PrivateJWK(kid string) (map[string]any, error) {
	if k.signer == nil {
		return nil, errors.New("a loaded key does not export its private part")
	}
	jk, err := jwk.Import(k.signer)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(jk)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	m["alg"] = k.Alg
	m["kid"] = kid
	return m, nil
}

// JWS signs header and claims (JSON-marshalled) as a compact JWS; alg is
// k.Alg unless header sets it.
func (k *privateKey) JWS(header, claims map[string]any) (string, error) {
	h := map[string]any{"alg": k.Alg}
	maps.Copy(h, header)
	hj, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return k.client.Sign(hj, cj), nil
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
	pk, err := generateKey(*alg)
	if err != nil {
		return e.errorf(exitUsage, "keygen", "%v", err)
	}
	priv, err := pk.PrivateJWK(pk.KID)
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
       popctl thumbprint -cert FILE|-

Prints the RFC 7638 SHA-256 thumbprint of a JWK: the value of a DPoP-bound
token's cnf.jkt, and of an Entra ID PoP token's cnf.kid. Public and private
JWKs give the same thumbprint (only the required public members are hashed;
alg, kid and the private members are not). A JWK Set prints one line per key.
"-" reads stdin.

With -cert, FILE holds X.509 certificates (PEM, or one in DER) and each
prints its RFC 8705 thumbprint: base64url of the SHA-256 of the DER
certificate, the value of a certificate-bound token's cnf.x5t#S256.

Examples:
  popctl thumbprint client.json
  popctl thumbprint -uri client.json        # urn:ietf:params:oauth:jwk-thumbprint:sha-256:...
  echo '{"kty":"EC","crv":"P-256","x":"...","y":"..."}' | popctl thumbprint -
  popctl thumbprint -cert client.pem        # cnf.x5t#S256 of a client certificate
`

func runThumbprint(e *env, args []string) int {
	fs := newFlags("thumbprint", thumbprintHelp)
	uri := fs.Bool("uri", false, "print the RFC 9278 URN form")
	cert := fs.Bool("cert", false, "FILE holds X.509 certificates: print their RFC 8705 thumbprints (cnf.x5t#S256)")
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
	if *cert {
		if *uri {
			return e.errorf(exitUsage, "thumbprint", "-uri is for JWK thumbprints, not with -cert")
		}
		tps, err := certThumbprints(raw)
		if err != nil {
			return e.errorf(exitUsage, "thumbprint", "%v", err)
		}
		for _, tp := range tps {
			fmt.Fprintln(e.stdout, tp)
		}
		return exitOK
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

// certThumbprints returns the RFC 8705 thumbprint of each certificate in
// raw: PEM CERTIFICATE blocks, or one DER certificate.
func certThumbprints(raw []byte) ([]string, error) {
	var out []string
	rest := raw
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("not an X.509 certificate: %v", err)
		}
		out = append(out, validate.CertificateThumbprint(b.Bytes))
	}
	if len(out) > 0 {
		return out, nil
	}
	if _, err := x509.ParseCertificate(raw); err != nil {
		return nil, errors.New("no certificate: want PEM CERTIFICATE blocks or one DER certificate")
	}
	return []string{validate.CertificateThumbprint(raw)}, nil
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
