package middleware

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/validate"
)

// WellKnownResourcePath is the well-known URI suffix of OAuth 2.0 Protected
// Resource Metadata (RFC 9728 §3).
const WellKnownResourcePath = "/.well-known/oauth-protected-resource"

// metadataMaxAge is the Cache-Control max-age of the metadata document: the
// routes that shape it are registered at startup, so it changes with a
// deployment, and clients should not keep it much longer than one.
const metadataMaxAge = 300

// ResourceMetadata configures the OAuth 2.0 Protected Resource Metadata
// document (RFC 9728) of the resource a Guard protects; see
// WithResourceMetadata. Every field is optional: what the Guard knows is
// derived from its configuration and its routes, not typed twice.
type ResourceMetadata struct {
	// Resource is the resource identifier (RFC 9728 §1.2, the RFC 8707
	// resource indicator clients ask tokens for): an http(s) URL without
	// query or fragment. Default: the URL of WithPublicURL. Tokens for this
	// resource carry it as their audience, so the token verifier must
	// accept it (validate.Audience): New refuses a configuration where it
	// cannot.
	Resource string
	// AuthorizationServers are the issuer identifiers of the authorization
	// servers clients may get tokens from. Default: the issuers the token
	// verifier trusts (a *validate.JWTVerifier, a *validate.IssuerSet or a
	// *validate.TokenCache over either). A multi-tenant issuer holding
	// {tenantid} is no URL a client can use: list the servers here then, as
	// with an introspection endpoint.
	AuthorizationServers []string
	// Scopes are added to scopes_supported, after the scopes the Guard's
	// routes require (RequireScopes).
	Scopes []string
	// Name is resource_name, a human-readable name of the resource.
	Name string
	// Documentation, PolicyURI and TOSURI are resource_documentation,
	// resource_policy_uri and resource_tos_uri: http(s) URLs for people.
	Documentation, PolicyURI, TOSURI string
	// SigningKey, when set, signs the document: it then carries
	// signed_metadata (RFC 9728 §2.2), a JWS of its claims with iss. ECDSA
	// P-256, P-384 and P-521 keys sign with ES256, ES384 and ES512, RSA keys
	// (2048 bits or more) with RS256, Ed25519 keys with EdDSA.
	SigningKey crypto.Signer
	// SigningKeyID is the kid of the signed metadata's JWS header.
	SigningKeyID string
	// SigningIssuer is the iss claim of the signed metadata, the party that
	// attests the claims. Default: Resource.
	SigningIssuer string
	// CertificateBoundTokens says that clients reach the Guard over mutual
	// TLS, so that it accepts certificate-bound access tokens (RFC 8705) on
	// routes that take Bearer. The document then carries
	// tls_client_certificate_bound_access_tokens: true, as it does by itself
	// with WithForwardedClientCert. A Guard behind its own TLS listener
	// cannot tell at New whether that listener asks for client
	// certificates: set it then.
	CertificateBoundTokens bool
}

// WithResourceMetadata makes the Guard publish the OAuth 2.0 Protected
// Resource Metadata of its resource (RFC 9728) and point every challenge to
// it with resource_metadata, so a client that knows only the resource's URL
// finds the authorization server, the scopes and whether DPoP is required.
// Serve Guard.MetadataHandler at Guard.MetadataPath (RFC 9728 §3.1: the
// well-known segment goes between the host and the resource's path). Each
// Guard describes one resource: a server with several resources uses one
// Guard per resource and mounts each document.
//
// The document holds resource, authorization_servers, scopes_supported
// (what the routes require, then m.Scopes), bearer_methods_supported
// (header, and query with WithQueryTokens), dpop_signing_alg_values_supported
// (the algorithms the proof verifier accepts), dpop_bound_access_tokens_required
// (true exactly when every route made from the Guard refuses Bearer),
// tls_client_certificate_bound_access_tokens (true when a route takes Bearer
// and client certificates reach the Guard: WithForwardedClientCert, or
// m.CertificateBoundTokens) and the optional fields of m.
func WithResourceMetadata(m ResourceMetadata) Option {
	return func(g *Guard) error {
		cp := m
		cp.AuthorizationServers = slices.Clone(m.AuthorizationServers)
		cp.Scopes = slices.Clone(m.Scopes)
		g.metaCfg = &cp
		return nil
	}
}

// metadata is the resolved configuration and state of the document.
type metadata struct {
	resource    string
	url, path   string
	servers     []string
	extraScopes []string
	name        string
	docs        string
	policy, tos string
	bearer      []string // bearer_methods_supported
	algs        []string
	signer      crypto.Signer
	signAlg     string
	kid, iss    string

	certBound    bool // clients' certificates reach the Guard
	mu           sync.Mutex
	routeScopes  []string // required by routes, first registration first
	routes       int
	bearerRoutes int
	body         []byte // cached document, nil when a route changed it
}

// setupMetadata resolves the WithResourceMetadata configuration in New.
// tokens is the verifier the user gave, before any cache of the Guard.
func (g *Guard) setupMetadata(tokens validate.TokenVerifier) error {
	c := g.metaCfg
	if c == nil {
		return nil
	}
	m := &metadata{resource: c.Resource, name: c.Name, kid: c.SigningKeyID, iss: c.SigningIssuer,
		certBound: c.CertificateBoundTokens || g.certFwd != nil}
	if m.resource == "" {
		if g.public == nil {
			return errors.New("middleware: WithResourceMetadata needs a resource identifier: set ResourceMetadata.Resource, or WithPublicURL")
		}
		m.resource = g.public.origin + g.public.prefix
	}
	u, err := checkHTTPURL("resource identifier", m.resource)
	if err != nil {
		return err
	}
	if !validHost(u.Host) {
		return fmt.Errorf("middleware: the resource identifier %q has no valid host", m.resource)
	}
	m.path = WellKnownResourcePath
	if p := u.EscapedPath(); p != "" && p != "/" {
		m.path += p
	}
	m.url = u.Scheme + "://" + u.Host + m.path
	if a, ok := tokens.(interface{ AcceptsAudience(string) bool }); ok && !a.AcceptsAudience(m.resource) {
		return fmt.Errorf("middleware: the token verifier does not accept the audience %q, the resource identifier: "+
			"tokens issued for this resource (RFC 8707) carry it as their aud; add it to validate.Audience, or set ResourceMetadata.Resource to an audience the verifier accepts", m.resource)
	}

	m.servers = c.AuthorizationServers
	if len(m.servers) == 0 {
		switch v := tokens.(type) {
		case *validate.JWTVerifier:
			m.servers = []string{v.Issuer()}
		case interface{ Issuers() []string }:
			m.servers = v.Issuers()
		}
		for _, s := range m.servers {
			if strings.Contains(s, "{tenantid}") {
				return fmt.Errorf("middleware: the issuer %q is multi-tenant, not a URL a client can use: list the authorization servers in ResourceMetadata.AuthorizationServers", s)
			}
		}
		if len(m.servers) == 0 {
			return errors.New("middleware: the token verifier names no issuer (an introspection endpoint, or a verifier of your own): list the authorization servers in ResourceMetadata.AuthorizationServers")
		}
	}
	for _, s := range m.servers {
		if strings.ContainsAny(s, "{}") {
			return fmt.Errorf("middleware: the authorization server %q is not a URL", s)
		}
		if _, err := checkHTTPURL("authorization server", s); err != nil {
			return err
		}
	}
	for _, s := range c.Scopes {
		if !validScope(s) {
			return fmt.Errorf("middleware: invalid scope %q in ResourceMetadata.Scopes", s)
		}
		if !slices.Contains(m.extraScopes, s) {
			m.extraScopes = append(m.extraScopes, s)
		}
	}
	if !utf8.ValidString(c.Name) || strings.ContainsFunc(c.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errors.New("middleware: ResourceMetadata.Name must be UTF-8 text without control characters")
	}
	for _, f := range []struct {
		name, v string
		dst     *string
	}{{"resource_documentation", c.Documentation, &m.docs}, {"resource_policy_uri", c.PolicyURI, &m.policy}, {"resource_tos_uri", c.TOSURI, &m.tos}} {
		if f.v == "" {
			continue
		}
		if _, err := checkHTTPURL(f.name, f.v); err != nil {
			return err
		}
		*f.dst = f.v
	}
	m.bearer = []string{"header"}
	if g.queryTokens {
		m.bearer = append(m.bearer, "query")
	}
	if c.SigningKey != nil {
		if isNil(c.SigningKey) {
			return errors.New("middleware: ResourceMetadata.SigningKey is a nil key")
		}
		alg, err := signingAlg(c.SigningKey.Public())
		if err != nil {
			return err
		}
		m.signer, m.signAlg = c.SigningKey, alg
		if m.iss == "" {
			m.iss = m.resource
		}
		if !isPrintableASCII(m.kid) {
			return errors.New("middleware: ResourceMetadata.SigningKeyID must be printable ASCII")
		}
	} else if c.SigningKeyID != "" || c.SigningIssuer != "" {
		return errors.New("middleware: ResourceMetadata.SigningKeyID and SigningIssuer need a SigningKey")
	}
	g.meta = m
	return nil
}

// checkHTTPURL checks an absolute http(s) URL without user information,
// query or fragment. RFC 9728 asks for https; http is accepted for
// development (clients such as oauth4webapi refuse it unless told).
func checkHTTPURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("middleware: the %s %q is not an absolute http(s) URL", what, raw)
	}
	if u.User != nil || strings.ContainsAny(raw, "?#") || !isPrintableASCII(raw) {
		return nil, fmt.Errorf("middleware: the %s %q must be ASCII without user information, query or fragment", what, raw)
	}
	if strings.ContainsAny(raw, "\" \\") {
		// It goes into challenges as a quoted-string, unchanged.
		return nil, fmt.Errorf("middleware: the %s %q must not hold spaces, quotes or backslashes", what, raw)
	}
	return u, nil
}

// validScope reports whether s is a scope token a challenge can carry.
func validScope(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \"\\") && isPrintableASCII(s)
}

// signingAlg returns the JWS algorithm for a public key.
func signingAlg(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return "RS256", nil
		}
		return "", errors.New("middleware: ResourceMetadata.SigningKey: RSA keys need at least 2048 bits")
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("middleware: ResourceMetadata.SigningKey: unsupported key type %T (ECDSA, RSA or Ed25519)", pub)
}

// noteRoute records a route made from the Guard: its scopes join
// scopes_supported, and whether it takes Bearer decides
// dpop_bound_access_tokens_required.
func (m *metadata) noteRoute(p *policy) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routes++
	if p.accepts(popguard.Bearer) {
		m.bearerRoutes++
	}
	for _, s := range p.scopes {
		if !slices.Contains(m.routeScopes, s) {
			m.routeScopes = append(m.routeScopes, s)
		}
	}
	m.body = nil
}

// document is the JSON of RFC 9728 §2, in its order.
type document struct {
	Issuer        string   `json:"iss,omitempty"` // signed_metadata claims only
	IssuedAt      int64    `json:"iat,omitempty"`
	Resource      string   `json:"resource"`
	Servers       []string `json:"authorization_servers,omitempty"`
	Scopes        []string `json:"scopes_supported,omitempty"`
	BearerMethods []string `json:"bearer_methods_supported"`
	Name          string   `json:"resource_name,omitempty"`
	Documentation string   `json:"resource_documentation,omitempty"`
	PolicyURI     string   `json:"resource_policy_uri,omitempty"`
	TOSURI        string   `json:"resource_tos_uri,omitempty"`
	CertBound     bool     `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	DPoPAlgs      []string `json:"dpop_signing_alg_values_supported,omitempty"`
	DPoPRequired  bool     `json:"dpop_bound_access_tokens_required"`
	Signed        string   `json:"signed_metadata,omitempty"`
}

// render returns the document, built again only after a route changed it.
func (m *metadata) render(now time.Time) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.body != nil {
		return m.body, nil
	}
	d := document{
		Resource: m.resource, Servers: m.servers, BearerMethods: m.bearer,
		Name: m.name, Documentation: m.docs, PolicyURI: m.policy, TOSURI: m.tos,
		DPoPAlgs: m.algs, DPoPRequired: m.routes > 0 && m.bearerRoutes == 0,
		CertBound: m.certBound && m.bearerRoutes > 0, // certificate-bound tokens travel as Bearer
	}
	d.Scopes = slices.Clone(m.routeScopes)
	for _, s := range m.extraScopes {
		if !slices.Contains(d.Scopes, s) {
			d.Scopes = append(d.Scopes, s)
		}
	}
	if m.signer != nil {
		claims := d
		claims.Issuer, claims.IssuedAt = m.iss, now.Unix()
		jws, err := m.sign(claims)
		if err != nil {
			return nil, err
		}
		d.Signed = jws
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	m.body = append(b, '\n')
	return m.body, nil
}

var b64 = base64.RawURLEncoding

// sign returns the compact JWS of claims under the signing key.
func (m *metadata) sign(claims document) (string, error) {
	hdr := struct {
		Alg string `json:"alg"`
		Kid string `json:"kid,omitempty"`
	}{m.signAlg, m.kid}
	hj, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hj) + "." + b64.EncodeToString(cj)
	sig, err := jwsSign(m.signer, m.signAlg, []byte(input))
	if err != nil {
		return "", fmt.Errorf("middleware: signing the resource metadata: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// jwsSign signs input with s for alg (RFC 7518 §3): ECDSA signatures as
// the fixed-size R||S, whatever the signer returns (ASN.1 DER from
// crypto.Signer).
func jwsSign(s crypto.Signer, alg string, input []byte) ([]byte, error) {
	switch alg {
	case "EdDSA":
		return s.Sign(rand.Reader, input, crypto.Hash(0))
	case "RS256":
		d := sha256.Sum256(input)
		return s.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	var digest []byte
	var h crypto.Hash
	switch alg {
	case "ES256":
		d := sha256.Sum256(input)
		digest, h = d[:], crypto.SHA256
	case "ES384":
		d := sha512.Sum384(input)
		digest, h = d[:], crypto.SHA384
	default:
		d := sha512.Sum512(input)
		digest, h = d[:], crypto.SHA512
	}
	der, err := s.Sign(rand.Reader, digest, h)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
		return nil, errors.New("the ECDSA signer returned no ASN.1 signature")
	}
	size := (s.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*size || rs.S.BitLen() > 8*size {
		return nil, errors.New("the ECDSA signer returned an out-of-range signature")
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// MetadataPath returns the path at which to serve MetadataHandler on this
// server: RFC 9728 §3.1's well-known segment followed by the resource
// identifier's path ("/.well-known/oauth-protected-resource" for
// "https://api.example.com", "/.well-known/oauth-protected-resource/v1" for
// "https://api.example.com/v1"). A proxy in front forwards that path
// unchanged. Empty without WithResourceMetadata.
func (g *Guard) MetadataPath() string {
	if g.meta == nil {
		return ""
	}
	return g.meta.path
}

// MetadataURL returns the URL of the metadata document, the value of
// resource_metadata in every challenge: the resource identifier's origin
// plus MetadataPath. Empty without WithResourceMetadata.
func (g *Guard) MetadataURL() string {
	if g.meta == nil {
		return ""
	}
	return g.meta.url
}

// Resource returns the resource identifier of the metadata document (the
// audience tokens for this resource carry). Empty without
// WithResourceMetadata.
func (g *Guard) Resource() string {
	if g.meta == nil {
		return ""
	}
	return g.meta.resource
}

// MetadataHandler serves the RFC 9728 metadata document: GET and HEAD, as
// application/json with Cache-Control max-age and
// Access-Control-Allow-Origin: *, so browser clients on any origin can read
// it (it holds nothing secret and is not read with credentials). OPTIONS
// answers a CORS preflight; other methods get 405. Without
// WithResourceMetadata it answers 404.
func (g *Guard) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if g.meta == nil {
			http.NotFound(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodOptions:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			h.Set("Access-Control-Allow-Headers", "*")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := g.meta.render(time.Now())
		if err != nil {
			g.log.LogAttrs(r.Context(), slog.LevelError, "popguard: cannot render the resource metadata", slog.String("cause", err.Error()))
			http.Error(w, "metadata unavailable", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(metadataMaxAge))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}
