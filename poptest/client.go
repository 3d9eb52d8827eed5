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

// SHROptions change a Microsoft PoP signed HTTP request.
type SHROptions struct {
	// Nonce is the server's nonce; default 32 random hex digits, as
	// MSAL.NET sends when the server gave none.
	Nonce string
	// Time is ts (default now).
	Time time.Time
	// Body, when not nil, adds b = base64url(SHA-256(Body)), which MSAL.NET
	// does not send but servers may require.
	Body []byte
	// Claims add payload members after MSAL.NET's.
	Claims map[string]any
}

// SHR returns a signed HTTP request in MSAL.NET's format (header alg, kid =
// thumbprint, typ pop; payload cnf, ts, at, nonce, m, u, p) for a request
// with method to target.
func (c *Client) SHR(method, target, accessToken string, o SHROptions) string {
	u, err := url.Parse(target)
	if err != nil {
		u = &url.URL{}
	}
	shr, err := c.sk.SHR(accessToken, sign.SHROptions{
		Method: method, Host: hostPort(u), Path: u.EscapedPath(),
		Nonce: o.Nonce, TS: o.Time, Body: o.Body, ExtraClaims: o.Claims, Format: sign.MSALNet,
	})
	if err != nil {
		panic(fmt.Sprintf("poptest: cannot sign the SHR: %v", err))
	}
	return shr
}

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

// hostPort is u's host[:port], the default port dropped, as MSAL.NET writes u.
func hostPort(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return host
	}
	return host + ":" + port
}
