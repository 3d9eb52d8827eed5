// Package client is the client side the benchmarks need: an ES256 issuer
// that publishes a JWKS and mints RFC 9068 access tokens (typ at+jwt, cnf.jkt
// for DPoP-bound ones), and ES256 DPoP proofs (RFC 9449 §4.2) with ath, jti
// and iat. It mirrors popguard's internal/sign, which another module cannot
// import, and uses only the standard library so that neither middleware under
// test shares code with the client.
package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"
)

var b64 = base64.RawURLEncoding

// Key is an ES256 (P-256) signing key.
type Key struct {
	priv *ecdsa.PrivateKey
	// jwk is the public JWK as JSON, members in RFC 7638 order.
	jwk string
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the public key.
	Thumbprint string
}

// NewKey generates an ES256 key.
func NewKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	x, y := b64.EncodeToString(pub[1:33]), b64.EncodeToString(pub[33:65])
	jwk := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, x, y)
	sum := sha256.Sum256([]byte(jwk))
	return &Key{priv: priv, jwk: jwk, Thumbprint: b64.EncodeToString(sum[:])}, nil
}

// Public returns the public key.
func (k *Key) Public() *ecdsa.PublicKey { return &k.priv.PublicKey }

// PublicJWK returns the public JWK as JSON, with extra members ("kid",
// "alg", "use") appended when non-empty.
func (k *Key) PublicJWK(kid string) string {
	if kid == "" {
		return k.jwk
	}
	return k.jwk[:len(k.jwk)-1] + fmt.Sprintf(`,"kid":%q,"alg":"ES256","use":"sig"}`, kid)
}

// SignRaw signs header and payload JSON as a compact JWS with ES256
// (signature R || S, 64 bytes, RFC 7518 §3.4).
func (k *Key) SignRaw(header, payload []byte) (string, error) {
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", err
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig[:]), nil
}

// Issuer plays the authorization server.
type Issuer struct {
	URL string
	KID string
	Key *Key
}

// NewIssuer returns an issuer at url with a fresh ES256 key.
func NewIssuer(url string) (*Issuer, error) {
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	return &Issuer{URL: url, KID: RandomID()[:8], Key: k}, nil
}

// JWKS returns the issuer's JWK Set document.
func (i *Issuer) JWKS() []byte {
	return []byte(`{"keys":[` + i.Key.PublicJWK(i.KID) + `]}`)
}

// TokenOptions describe an access token.
type TokenOptions struct {
	Subject, ClientID, Audience, Scope string
	TTL                                time.Duration // default 1 hour
	// JKT binds the token to a DPoP key (cnf.jkt) when set.
	JKT string
}

// Token mints an RFC 9068 access token (typ at+jwt) with iss, sub, aud,
// client_id, iat, exp, jti, and scope and cnf when set.
func (i *Issuer) Token(o TokenOptions) (string, error) {
	now := time.Now()
	ttl := o.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	claims := map[string]any{
		"iss": i.URL, "sub": o.Subject, "aud": o.Audience, "client_id": o.ClientID,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": RandomID(),
	}
	if o.Scope != "" {
		claims["scope"] = o.Scope
	}
	if o.JKT != "" {
		claims["cnf"] = map[string]string{"jkt": o.JKT}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	header := fmt.Sprintf(`{"alg":"ES256","typ":"at+jwt","kid":%q}`, i.KID)
	return i.Key.SignRaw([]byte(header), payload)
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

// Prover makes DPoP proofs for one key, method, htu and access token.
type Prover struct {
	Key    *Key
	Method string
	HTU    string
	header []byte
	ath    string
}

// NewProver returns a Prover. accessToken may be empty (no ath).
func NewProver(k *Key, method, htu, accessToken string) *Prover {
	p := &Prover{Key: k, Method: method, HTU: htu}
	p.header = []byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":` + k.jwk + `}`)
	if accessToken != "" {
		p.ath = ATH(accessToken)
	}
	return p
}

// Proof returns a fresh proof: a random jti and iat = now.
func (p *Prover) Proof() (string, error) {
	return p.ProofAt(time.Now())
}

// ProofAt returns a proof with a random jti issued at iat.
func (p *Prover) ProofAt(iat time.Time) (string, error) {
	payload := fmt.Sprintf(`{"jti":%q,"htm":%q,"htu":%q,"iat":%d`, RandomID(), p.Method, p.HTU, iat.Unix())
	if p.ath != "" {
		payload += fmt.Sprintf(`,"ath":%q`, p.ath)
	}
	payload += "}"
	return p.Key.SignRaw(p.header, []byte(payload))
}

// Fill overwrites dst with fresh proofs, signing on every CPU.
func (p *Prover) Fill(dst []string) error {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	chunk := (len(dst) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(dst))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			now := time.Now()
			for i := lo; i < hi; i++ {
				var err error
				if dst[i], err = p.ProofAt(now); err != nil {
					errs[w] = err
					return
				}
			}
		}(w, lo, hi)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
