package poptest

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/internal/clientkey"
	"github.com/popguard/popguard/internal/sign"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// DefaultAudience is the aud of the tokens an Issuer mints unless told
// otherwise.
const DefaultAudience = "https://api.example.test"

// Issuer plays an authorization server in tests. It signs access tokens with
// its own ES256 key and, when started with NewIssuer, serves on loopback:
//
//	/.well-known/openid-configuration      metadata (issuer, jwks_uri, token_endpoint)
//	/.well-known/oauth-authorization-server the same, as RFC 8414 names it
//	/jwks                                   the public key set
//	/token                                  client credentials: any client_id
//	                                        and secret; with a DPoP proof
//	                                        (checked, no nonce) the token is
//	                                        bound to its key (token_type DPoP)
//
// An Issuer is safe for concurrent use.
type Issuer struct {
	// URL is the issuer identifier (the iss claim); for NewIssuer, the base
	// URL of its server.
	URL string
	// Audience is the aud of minted tokens when TokenOptions.Audience is
	// empty; DefaultAudience unless changed.
	Audience string

	key    *sign.Key
	kid    string
	srv    *httptest.Server
	proofs *validate.ProofVerifier
}

// NewIssuer starts an Issuer with its server on a loopback port. Call Close
// when done.
func NewIssuer() *Issuer {
	i := newIssuer("")
	i.srv = httptest.NewServer(http.HandlerFunc(i.serve))
	i.URL = i.srv.URL
	return i
}

// NewStaticIssuer returns an Issuer called url that serves nothing: hand its
// KeySet (or JWKS) to the verifier under test.
func NewStaticIssuer(url string) *Issuer { return newIssuer(url) }

// NewStaticIssuerWithKey is NewStaticIssuer signing with key (its JWS
// algorithm; kid the key's RFC 7638 thumbprint unless TokenOptions.Header
// sets another), for tests whose verifier is configured with that key.
func NewStaticIssuerWithKey(url string, key *dpopclient.Key) *Issuer {
	i := newIssuer(url)
	if sk := clientkey.Unwrap(key); sk != nil {
		i.key, i.kid = sk, key.Thumbprint()
	}
	return i
}

func newIssuer(url string) *Issuer {
	k, err := sign.NewKey("ES256")
	if err != nil {
		panic("poptest: " + err.Error()) // crypto/rand failed
	}
	pv, err := validate.NewProofVerifier()
	if err != nil {
		panic("poptest: " + err.Error())
	}
	return &Issuer{URL: url, Audience: DefaultAudience, key: k, kid: sign.RandomID()[:8], proofs: pv}
}

// Close stops the Issuer's server, if it has one.
func (i *Issuer) Close() {
	if i.srv != nil {
		i.srv.Close()
	}
}

// JWKSURL returns the URL of the Issuer's key set ("" without a server).
func (i *Issuer) JWKSURL() string {
	if i.srv == nil {
		return ""
	}
	return i.URL + "/jwks"
}

// KeyID returns the kid of the Issuer's signing key.
func (i *Issuer) KeyID() string { return i.kid }

// JWKS returns the Issuer's public key set document.
func (i *Issuer) JWKS() []byte {
	jwk := i.key.PublicJWK(map[string]any{"kid": i.kid, "alg": i.key.Alg, "use": "sig"})
	b, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	return b
}

// KeySet returns the Issuer's keys as a key set for validate.NewJWTVerifier.
func (i *Issuer) KeySet() *validate.StaticKeySet {
	ks, err := validate.NewStaticKeySet(i.JWKS())
	if err != nil {
		panic("poptest: " + err.Error()) // the Issuer's own key: cannot happen
	}
	return ks
}

// TokenOptions describe an access token. The zero value is an RFC 9068
// token for DefaultAudience, subject "user-1", client "client-1", valid for
// five minutes.
type TokenOptions struct {
	Subject  string // default "user-1"
	ClientID string // default "client-1"
	Audience string // default Issuer.Audience
	Scope    string // the scope claim, omitted when empty
	// IssuedAt is iat (default now); the token expires TTL later (default
	// five minutes).
	IssuedAt time.Time
	TTL      time.Duration
	// DPoP binds the token to the client's key for DPoP (cnf.jkt).
	DPoP *Client
	// PoP binds the token to the client's key for Microsoft PoP (cnf.kid,
	// the key's thumbprint, as Microsoft Entra ID binds it).
	PoP *Client
	// Typ is the header typ: default the profile's ("at+jwt" for RFC9068);
	// "-" omits it.
	Typ string
	// Claims are set last: they add claims or replace the ones above. A nil
	// value removes the claim.
	Claims map[string]any
	// Header is set last in the JOSE header (kid, typ, alg...); a nil value
	// removes a member.
	Header map[string]any
	// Roles are application roles, in the claim the profile keeps them
	// (roles; Entra ID roles; Keycloak realm_access.roles; Auth0
	// permissions). Okta has no roles claim.
	Roles []string
	// Profile shapes the token as one provider issues it, by the names
	// validate.ProfileByName knows: "rfc9068" (default), "entra",
	// "keycloak", "okta" or "auth0". Token panics on another name.
	Profile string
	// Tenant is an Entra ID token's tid (default
	// "00000000-0000-0000-0000-00000000000a"); in an Issuer URL holding
	// {tenantid}, it takes the placeholder's place in iss.
	Tenant string
	// Version is an Entra ID token's ver: "2.0" (default) or "1.0", whose
	// iss is https://sts.windows.net/{tid}/ and whose client is appid.
	Version string
}

// Token mints a signed access token. It panics only on a mistake in the
// test itself: an unknown Profile, or Claims holding a value encoding/json
// cannot marshal.
func (i *Issuer) Token(o TokenOptions) string {
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	claims := map[string]any{
		"iss": i.URL, "sub": or(o.Subject, "user-1"), "aud": or(o.Audience, i.Audience),
		"client_id": or(o.ClientID, "client-1"),
		"iat":       iat.Unix(), "exp": iat.Add(ttl).Unix(), "jti": sign.RandomID(),
	}
	if o.Scope != "" {
		claims["scope"] = o.Scope
	}
	switch {
	case o.DPoP != nil:
		claims["cnf"] = map[string]any{"jkt": o.DPoP.Thumbprint()}
	case o.PoP != nil:
		claims["cnf"] = map[string]any{"kid": o.PoP.Thumbprint()}
	}
	typ := shape(claims, o)
	apply(claims, o.Claims)
	header := map[string]any{"kid": i.kid}
	switch typ := or(o.Typ, typ); typ {
	case "-", "":
	default:
		header["typ"] = typ
	}
	apply(header, o.Header)
	tok, err := i.key.JWS(header, claims)
	if err != nil {
		panic(fmt.Sprintf("poptest: cannot mint the token: %v", err))
	}
	return tok
}

// shape rewrites the RFC 9068 claims into the profile's provider's shape
// and returns its header typ ("-" for none). Each follows the provider's
// documentation, as validate's profile of the same name does.
func shape(c map[string]any, o TokenOptions) string {
	client, _ := c["client_id"].(string)
	var roles any
	if o.Roles != nil {
		roles = o.Roles
	}
	move := func(from, to string) {
		if v, ok := c[from]; ok {
			delete(c, from)
			c[to] = v
		}
	}
	switch o.Profile {
	case "", "rfc9068":
		apply(c, map[string]any{"roles": roles})
		return "at+jwt"
	case "entra":
		tid := or(o.Tenant, "00000000-0000-0000-0000-00000000000a")
		iss, _ := c["iss"].(string)
		c["iss"] = strings.Replace(iss, "{tenantid}", tid, 1)
		c["tid"], c["ver"], c["nbf"], c["oid"] = tid, or(o.Version, "2.0"), c["iat"], c["sub"]
		delete(c, "client_id")
		delete(c, "jti")
		c["uti"] = sign.RandomID()
		if c["ver"] == "1.0" {
			c["iss"], c["appid"] = "https://sts.windows.net/"+tid+"/", client
		} else {
			c["azp"] = client
		}
		move("scope", "scp")
		if cnf, ok := c["cnf"].(map[string]any); ok && cnf["kid"] != nil {
			cnf["xms_ksl"] = "sw"
		}
		apply(c, map[string]any{"roles": roles})
		return "JWT"
	case "keycloak":
		delete(c, "client_id")
		c["azp"], c["typ"] = client, "Bearer"
		if cnf, ok := c["cnf"].(map[string]any); ok && cnf["jkt"] != nil {
			c["typ"] = "DPoP"
		}
		if o.Roles != nil {
			c["realm_access"] = map[string]any{"roles": o.Roles}
		}
		return "JWT"
	case "okta":
		delete(c, "client_id")
		c["cid"], c["jti"] = client, "AT."+sign.RandomID()
		if s, ok := c["scope"].(string); ok {
			delete(c, "scope")
			c["scp"] = strings.Fields(s)
		}
		return "-"
	case "auth0":
		c["azp"] = client
		apply(c, map[string]any{"permissions": roles})
		return "at+jwt"
	}
	panic(fmt.Sprintf("poptest: unknown profile %q (rfc9068, entra, keycloak, okta, auth0)", o.Profile))
}

// apply sets each of overrides in m; a nil value deletes the member.
func apply(m, overrides map[string]any) {
	for k, v := range overrides {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// serve is the Issuer's HTTP server.
func (i *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": i.URL, "jwks_uri": i.URL + "/jwks", "token_endpoint": i.URL + "/token",
			"grant_types_supported":                 []string{"client_credentials"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
			"dpop_signing_alg_values_supported":     validate.DefaultProofAlgs(),
		})
	case "/jwks":
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(i.JWKS())
	case "/token":
		i.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials")
		return
	}
	clientID, _, ok := r.BasicAuth()
	if !ok {
		clientID = r.PostForm.Get("client_id")
	}
	if clientID == "" {
		fail(http.StatusUnauthorized, "invalid_client", "no client_id")
		return
	}
	o := TokenOptions{Subject: clientID, ClientID: clientID, Scope: r.PostForm.Get("scope")}
	if aud := r.PostForm.Get("resource"); aud != "" {
		o.Audience = aud
	}
	tokenType := "Bearer"
	var jkt string
	if proofs := r.Header.Values("DPoP"); len(proofs) > 0 {
		if len(proofs) != 1 {
			fail(http.StatusBadRequest, "invalid_dpop_proof", "more than one DPoP header")
			return
		}
		p, err := i.proofs.Verify(proofs[0], validate.ProofRequest{Method: r.Method, Target: i.URL + "/token"})
		if err != nil {
			fail(http.StatusBadRequest, "invalid_dpop_proof", err.Error())
			return
		}
		jkt, tokenType = p.Thumbprint, "DPoP"
	}
	claims := map[string]any{}
	if jkt != "" {
		claims["cnf"] = map[string]any{"jkt": jkt}
	}
	o.Claims = claims
	ttl := 5 * time.Minute
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": i.Token(o), "token_type": tokenType,
		"expires_in": int(ttl / time.Second), "scope": o.Scope,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Guard returns a middleware.Guard that trusts the Issuer, for a test of
// protected handlers (guard := iss.Guard(t); h := guard.Require(mode)(handler)): its tokens checked against the Issuer's keys with the
// Issuer's Audience, which is also the public URL proofs are signed for
// (https://api.example.test by default), logs discarded. opts are applied
// after those and may override them. The Guard is closed when t ends; a
// configuration error fails t.
func (i *Issuer) Guard(t testing.TB, opts ...middleware.Option) *middleware.Guard {
	t.Helper()
	tokens, err := validate.NewJWTVerifier(i.URL, i.KeySet(), validate.Audience(i.Audience))
	if err != nil {
		t.Fatal(err)
	}
	base := []middleware.Option{
		middleware.WithTokens(tokens),
		middleware.WithPublicURL(i.Audience),
		middleware.WithLogger(slog.New(slog.DiscardHandler)),
	}
	g, err := middleware.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}
