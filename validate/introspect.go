package validate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
)

// Defaults of NewIntrospector.
const (
	defaultIntrospectTimeout = 3 * time.Second
	defaultMaxResponseSize   = 64 << 10
	// defaultIntrospectClientTimeout bounds the default HTTP client, on top
	// of the per-call Timeout.
	defaultIntrospectClientTimeout = 5 * time.Second
	// maxIntrospectTokenSize caps the token sent to the endpoint.
	maxIntrospectTokenSize = defaultMaxTokenSize
)

// ErrIntrospectAuth is the cause (see errors.Is) of the error returned when
// the introspection endpoint answers 401 or 403: it rejected the resource
// server's own credentials. The client is not at fault, so the error code is
// still temporarily_unavailable, but the configuration needs attention.
var ErrIntrospectAuth = errors.New("validate: the introspection endpoint rejected the client credentials")

// Introspector validates opaque access tokens with an RFC 7662 token
// introspection endpoint. It implements TokenVerifier and is safe for
// concurrent use.
//
// It checks what the authorization server says about the token: active must
// be the JSON literal true (RFC 7662 §2.2), exp and nbf against the local
// clock, iss and aud against ExpectIssuer and Audience, and the
// consistency of token_type and cnf.jkt (RFC 9449 §6.2). It does not check
// the DPoP binding itself: the resource server does that with the returned
// Token (CheckDPoPBinding), since the authorization server does not.
//
// Introspection responses are not cached here; wrap the Introspector in a
// TokenCache (the middleware does by default), which never keeps a token
// beyond its exp (RFC 7662 §4) nor beyond MaxAge, the longest time a
// revoked token can still be accepted.
type Introspector struct {
	endpoint  string
	client    *http.Client
	timeout   time.Duration
	auth      func(h http.Header, form url.Values)
	authSet   int
	issuer    string
	requireIs bool
	audiences []string
	maxSize   int64
	now       func() time.Time
}

// basicAuth sets HTTP Basic client authentication (see ClientSecretBasic).
func (i *Introspector) basicAuth(clientID, secret string) error {
	if clientID == "" || secret == "" {
		return errors.New("validate: ClientSecretBasic needs a client id and a secret")
	}
	cred := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)))
	i.auth = func(h http.Header, _ url.Values) { h.Set("Authorization", "Basic "+cred) }
	i.authSet++
	return nil
}

// postAuth sets client_secret_post client authentication (see
// ClientSecretPost).
func (i *Introspector) postAuth(clientID, secret string) error {
	if clientID == "" || secret == "" {
		return errors.New("validate: ClientSecretPost needs a client id and a secret")
	}
	i.auth = func(_ http.Header, form url.Values) {
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
	}
	i.authSet++
	return nil
}

// bearerAuth sets bearer client authentication (see BearerAuth).
func (i *Introspector) bearerAuth(token string) error {
	if !isB64Token(token) {
		return errors.New("validate: BearerAuth needs an RFC 6750 b64token")
	}
	i.auth = func(h http.Header, _ url.Values) { h.Set("Authorization", "Bearer "+token) }
	i.authSet++
	return nil
}

// NewIntrospector returns a TokenVerifier that asks the RFC 7662
// introspection endpoint about each token. The endpoint must be an https URL
// (http is accepted for loopback hosts only, for tests) without user
// information or fragment. Exactly one client authentication option
// (ClientSecretBasic, ClientSecretPost or BearerAuth) is required: RFC 7662
// §2.1 makes the endpoint require authorization, which also keeps it from
// serving as a token-scanning oracle.
func NewIntrospector(endpoint string, opts ...Option) (*Introspector, error) {
	if err := checkIntrospectEndpoint(endpoint); err != nil {
		return nil, err
	}
	i := &Introspector{
		endpoint: endpoint,
		client:   &http.Client{Timeout: defaultIntrospectClientTimeout, CheckRedirect: noRedirect},
		timeout:  defaultIntrospectTimeout,
		maxSize:  defaultMaxResponseSize,
		now:      time.Now,
	}
	if err := applyIntrospect(opts, i); err != nil {
		return nil, err
	}
	switch {
	case i.authSet == 0:
		return nil, errors.New("validate: the introspection endpoint requires client authentication (RFC 7662 §2.1): use ClientSecretBasic, ClientSecretPost or BearerAuth")
	case i.authSet > 1:
		return nil, errors.New("validate: more than one client authentication method")
	}
	return i, nil
}

func checkIntrospectEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("validate: invalid introspection endpoint: %w", err)
	}
	if u.Host == "" || u.Opaque != "" {
		return errors.New("validate: the introspection endpoint must be an absolute URL")
	}
	if u.User != nil {
		return errors.New("validate: the introspection endpoint must not hold user information; use ClientSecretBasic")
	}
	if u.Fragment != "" || strings.Contains(endpoint, "#") {
		return errors.New("validate: the introspection endpoint must not have a fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return errors.New("validate: the introspection endpoint must use https (http only for loopback hosts)")
	}
	return errors.New("validate: the introspection endpoint must use https")
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// isB64Token reports whether s matches RFC 6750 §2.1
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	n := len(strings.TrimRight(s, "="))
	if n == 0 {
		return false
	}
	for _, c := range []byte(s[:n]) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// Endpoint returns the introspection endpoint URL.
func (i *Introspector) Endpoint() string { return i.endpoint }

// VerifyToken implements TokenVerifier. It returns invalid_token when the
// authorization server says the token is not active or the response
// contradicts this resource server's expectations, and
// temporarily_unavailable when the endpoint could not give a usable answer
// (network error, timeout, a status other than 200, a body that is not a
// single JSON object or is too large). Errors never contain the token.
func (i *Introspector) VerifyToken(ctx context.Context, token string) (*Token, error) {
	// RFC 6749 Appendix A.12: access-token = 1*VSCHAR (%x20-7E). Checked
	// before any network call so garbage costs nothing upstream.
	if len(token) == 0 || len(token) > maxIntrospectTokenSize {
		return nil, tokenErr(popguard.ReasonTokenMalformed, "The access token is malformed", nil)
	}
	for j := 0; j < len(token); j++ {
		if c := token[j]; c < 0x20 || c > 0x7e {
			return nil, tokenErr(popguard.ReasonTokenMalformed, "The access token is malformed", nil)
		}
	}
	body, err := i.introspect(ctx, token)
	if err != nil {
		return nil, unavailable(err)
	}
	members, err := jose.ParseObject(body)
	if err != nil {
		// Not a single JSON object, or one with duplicate members: the
		// server gave no usable answer.
		return nil, unavailable(fmt.Errorf("introspection response: %w", err))
	}
	// RFC 7662 §2.2: active is REQUIRED and a boolean; anything but the
	// literal true ("true", 1, missing) means not active.
	if v, ok := jose.Lookup(members, "active"); !ok || string(v) != "true" {
		return nil, tokenErr(popguard.ReasonTokenInactive, "The access token is not active", nil)
	}
	var c tokenClaims
	if err := c.read(members, ""); err != nil {
		return nil, err
	}
	if err := i.check(&c); err != nil {
		return nil, err
	}
	return c.token(&introspectionProfile)
}

func unavailable(cause error) error {
	return popguard.NewError(popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable, "The token could not be introspected", cause)
}

// introspect sends the request and returns the body of a 200 response.
func (i *Introspector) introspect(ctx context.Context, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	h := http.Header{}
	i.auth(h, form)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := i.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		drain(resp.Body)
		return nil, fmt.Errorf("%w (HTTP %d)", ErrIntrospectAuth, resp.StatusCode)
	default:
		drain(resp.Body)
		return nil, fmt.Errorf("introspection endpoint answered HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, i.maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the introspection response: %w", err)
	}
	if int64(len(body)) > i.maxSize {
		return nil, fmt.Errorf("introspection response larger than %d bytes", i.maxSize)
	}
	return body, nil
}

// drain reads a little of an unwanted body so the connection can be reused.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 4096)) }

func (i *Introspector) check(c *tokenClaims) error {
	// RFC 9449 §6.2: "If the token_type member is included in the
	// introspection response, it MUST contain the value DPoP." A DPoP
	// token_type without a DPoP key, or a DPoP key under another type, is
	// inconsistent.
	if raw, ok := jose.Lookup(c.members, "token_type"); ok {
		tt, ok := jose.String(raw)
		if !ok {
			return tokenErr(popguard.ReasonTokenClaims, "The access token claim token_type has the wrong type", nil)
		}
		if isDPoP := strings.EqualFold(tt, "DPoP"); isDPoP != (c.cnf.JKT != "") {
			return tokenErr(popguard.ReasonTokenCnf, "The access token type does not match its confirmation", nil)
		}
	}
	if i.issuer != "" {
		if c.present["iss"] && c.iss != i.issuer || !c.present["iss"] && i.requireIs {
			return tokenErr(popguard.ReasonTokenIssuer, "The access token issuer is not trusted", nil)
		}
	}
	if len(i.audiences) > 0 && c.present["aud"] && !slices.ContainsFunc(c.aud, func(a string) bool { return slices.Contains(i.audiences, a) }) {
		return tokenErr(popguard.ReasonTokenAudience, "The access token is not meant for this resource", nil)
	}
	now := i.now()
	// The server vouched for the token just now; exp is still checked
	// strictly, as a cached answer must not outlive it (RFC 7662 §4), and
	// nbf with the usual leeway for clock skew.
	if c.present["exp"] && !now.Before(floatTime(c.exp)) {
		return tokenErr(popguard.ReasonTokenExpired, "The access token expired", nil)
	}
	if c.present["nbf"] && now.Add(defaultLeeway).Before(floatTime(c.nbf)) {
		return tokenErr(popguard.ReasonTokenNotYetValid, "The access token is not valid yet", nil)
	}
	return nil
}
