package poptest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/internal/clientkey"
	"github.com/popguard/popguard/internal/sign"
	"github.com/popguard/popguard/internal/uri"
)

// Client plays a DPoP or Microsoft PoP client in tests: it holds a key and
// signs requests with it. A Client is safe for concurrent use.
type Client struct {
	key *dpopclient.Key
	sk  *sign.Key
}

// NewClient returns a Client with a new ES256 key.
func NewClient() *Client {
	k, err := dpopclient.GenerateKey("ES256")
	if err != nil {
		panic("poptest: " + err.Error()) // crypto/rand failed
	}
	return NewClientWithKey(k)
}

// NewClientWithKey returns a Client that signs with key, for other
// algorithms (dpopclient.GenerateKey) or a key of the test's own. Microsoft
// PoP clients use RSA keys (PS256 for MSAL.NET).
func NewClientWithKey(key *dpopclient.Key) *Client {
	return &Client{key: key, sk: clientkey.Unwrap(key)}
}

// Key returns the client's key, for a dpopclient.Transport.
func (c *Client) Key() *dpopclient.Key { return c.key }

// Thumbprint returns the RFC 7638 thumbprint of the client's public key.
func (c *Client) Thumbprint() string { return c.key.Thumbprint() }

// ProofOptions change a DPoP proof, for tests of what a server refuses.
type ProofOptions struct {
	Nonce    string    // the nonce claim, omitted when empty
	IssuedAt time.Time // iat, default now
	JTI      string    // default random
	// Claims are set last, replacing or adding claims; a nil value removes
	// one (for example "ath" or "htu").
	Claims map[string]any
	// Header is set last in the JOSE header; a nil value removes a member.
	Header map[string]any
}

// Proof returns a DPoP proof for a request with method to target (htu is
// target without query and fragment) carrying accessToken (ath; none when
// empty).
func (c *Client) Proof(method, target, accessToken string, o ProofOptions) string {
	htu := target
	if u, err := url.Parse(target); err == nil {
		u.RawQuery, u.Fragment, u.ForceQuery = "", "", false
		htu = u.String()
	}
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	claims := map[string]any{"jti": or(o.JTI, sign.RandomID()), "htm": method, "htu": htu, "iat": iat.Unix()}
	if accessToken != "" {
		claims["ath"] = sign.ATH(accessToken)
	}
	if o.Nonce != "" {
		claims["nonce"] = o.Nonce
	}
	apply(claims, o.Claims)
	header := map[string]any{"typ": "dpop+jwt", "jwk": c.sk.PublicJWK(nil)}
	apply(header, o.Header)
	p, err := c.sk.JWS(header, claims)
	if err != nil {
		panic(fmt.Sprintf("poptest: cannot sign the proof: %v", err))
	}
	return p
}

// DPoP sets r's Authorization (DPoP scheme) and DPoP headers for
// accessToken. The proof's htu is r.URL when it is absolute (as
// httptest.NewRequest("GET", "https://api.example.test/x", nil) makes it),
// else http(s)://r.Host plus the path.
func (c *Client) DPoP(r *http.Request, accessToken string, o ProofOptions) {
	r.Header.Set("Authorization", "DPoP "+accessToken)
	r.Header.Set("DPoP", c.Proof(r.Method, target(r), accessToken, o))
}

// SHRFormat is the client whose signed HTTP requests Client.SHR writes:
// its header and payload members, their order and its defaults.
type SHRFormat int

const (
	// MSALNet is MSAL.NET's PoPAuthenticationScheme, the format popguard
	// accepts without compatibility options: header alg, kid (the key's
	// thumbprint), typ pop; payload cnf, ts, at, nonce (32 hex digits), m,
	// u, p.
	MSALNet SHRFormat = iota
	// MSALBrowser is msal-browser's: header typ, alg, kid (the req_cnf
	// value); payload at, ts, m, u and p lower-cased (p ends in '/' when the
	// target has no query), nonce (a UUID), q = [[], lower-cased query]
	// whenever the target has a query, then cnf with WebCrypto's JWK
	// members.
	MSALBrowser
	// IdentityModel is Microsoft.IdentityModel's SignedHttpRequestHandler:
	// header alg, kid, typ; payload at, ts, m, u, p, q, h, b (each when
	// set), nonce, cnf with kid in its JWK.
	IdentityModel
)

// SHROptions change a Microsoft PoP signed HTTP request.
type SHROptions struct {
	// Format is the client whose SHR is written (default MSALNet).
	Format SHRFormat
	// Nonce is the server's nonce; default the format's random nonce, as
	// the client sends when the server gave none.
	Nonce string
	// Time is ts (default now).
	Time time.Time
	// Query, when not nil, adds q in Microsoft.IdentityModel's form: the
	// named parameters of the target's query, in that order (none for an
	// empty list), and the SHA-256 of "name=value" pairs joined by '&'. A
	// named parameter the query lacks (or holds more than once) is hashed
	// as absent.
	Query []string
	// QueryRaw adds q in msal-browser's raw form, [[], query] with the
	// target's query as is (lower-cased for MSALBrowser, which adds it by
	// itself when the target has a query).
	QueryRaw bool
	// Headers, when not nil, adds h in Microsoft.IdentityModel's form,
	// covering each of its headers but Authorization that has exactly one
	// non-empty value, in sorted order: the lower-cased names and the
	// SHA-256 of "name: value" lines joined by "\n".
	Headers http.Header
	// Body, when not nil, adds b = base64url(SHA-256(Body)), which MSAL.NET
	// does not send but servers may require.
	Body []byte
	// Claims add payload members after the format's own (client_claims,
	// for one, lands where msal-browser writes it); a member the format
	// writes is replaced in place, and a nil value removes it (for example
	// "nonce" or "m").
	Claims map[string]any
	// Header is set last in the JOSE header, in place; a nil value removes a
	// member (for example "typ").
	Header map[string]any
}

// SHR returns a signed HTTP request in o.Format (MSAL.NET's by default:
// header alg, kid = thumbprint, typ pop; payload cnf, ts, at, nonce, m, u,
// p) for a request with method to target: u is target's host[:port] without
// a default port, p its escaped path.
func (c *Client) SHR(method, target, accessToken string, o SHROptions) string {
	u, err := url.Parse(target)
	if err != nil {
		u = &url.URL{}
	}
	so := sign.SHROptions{
		Method: method, Host: uri.HostPort(u), Path: u.EscapedPath(), RawQuery: u.RawQuery,
		Nonce: o.Nonce, TS: o.Time, Body: o.Body, ExtraClaims: o.Claims, Header: o.Header,
	}
	// client_claims is not one of the format's own members: as a string it
	// goes where msal-browser writes it, after q, h and b (as an extra
	// claim it would land after cnf).
	if cc, ok := o.Claims["client_claims"].(string); ok && cc != "" {
		so.ClientClaims = cc
		so.ExtraClaims = make(map[string]any, len(o.Claims))
		for n, v := range o.Claims {
			if n != "client_claims" {
				so.ExtraClaims[n] = v
			}
		}
	}
	switch o.Format {
	case MSALNet:
		so.Format = sign.MSALNet
	case MSALBrowser:
		so.Format = sign.MSALBrowser
	case IdentityModel:
		so.Format = sign.IdentityModel
	default:
		panic(fmt.Sprintf("poptest: unknown SHR format %d", o.Format))
	}
	if o.Query != nil {
		so.Q = sign.QHash(u.RawQuery, o.Query...)
		if len(o.Query) == 0 {
			so.Q = &sign.QClaim{Names: []string{}, Value: sign.QHash("").Value}
		}
	}
	if o.QueryRaw {
		raw := u.RawQuery
		if o.Format == MSALBrowser {
			raw = strings.ToLower(raw)
		}
		so.Q = sign.QRaw(raw)
	}
	if o.Headers != nil {
		so.H = sign.HHash(o.Headers)
	}
	shr, err := c.sk.SHR(accessToken, so)
	if err != nil {
		panic(fmt.Sprintf("poptest: cannot sign the SHR: %v", err))
	}
	return shr
}

// Sign returns the compact JWS of exactly header and payload (JSON, or any
// bytes), signed with the client's key under its algorithm; alg is not
// added. It is the escape hatch for tests of malformed input that Proof and
// SHR will not write: duplicate members, odd types, tampered copies.
func (c *Client) Sign(header, payload []byte) string {
	jws, err := c.sk.SignRaw(header, payload)
	if err != nil {
		panic(fmt.Sprintf("poptest: cannot sign: %v", err))
	}
	return jws
}

// JWK returns the members of the client's public JWK (kty, crv, x, y or
// kty, n, e), a new map on each call, for tests that build their own
// headers.
func (c *Client) JWK() map[string]any { return c.sk.PublicJWK(nil) }

// PoP sets r's Authorization header to PoP and an SHR for accessToken; the
// target is taken as DPoP does.
func (c *Client) PoP(r *http.Request, accessToken string, o SHROptions) {
	r.Header.Set("Authorization", "PoP "+c.SHR(r.Method, target(r), accessToken, o))
}

func target(r *http.Request) string {
	if r.URL.IsAbs() {
		return r.URL.String()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}
