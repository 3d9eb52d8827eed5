package dpopclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/popguard/popguard/internal/sign"
)

// Token is an access token and what the token endpoint said with it.
type Token struct {
	AccessToken string
	// TokenType is "DPoP" for every token this package's sources return.
	TokenType    string
	RefreshToken string
	// Expiry is when the access token expires; zero when the server did not
	// say (expires_in absent).
	Expiry time.Time
	Scope  string
}

// TokenSource supplies access tokens. Implementations are safe for
// concurrent use and return a token that is not about to expire.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// StaticToken returns a TokenSource that always returns accessToken, a token
// obtained elsewhere and bound to the Transport's key.
func StaticToken(accessToken string) TokenSource { return staticToken(accessToken) }

type staticToken string

func (s staticToken) Token(context.Context) (*Token, error) {
	return &Token{AccessToken: string(s), TokenType: "DPoP"}, nil
}

// Client authentication methods at the token endpoint (RFC 7591 §2).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthNone              = "none"
)

// Errors of the token sources, matched with errors.Is; a token endpoint's
// error response is a *TokenError.
var (
	// ErrNotDPoP: the token endpoint answered with a token_type other than
	// DPoP, so the token is not bound to the key (RFC 9449 §5).
	ErrNotDPoP = errors.New("dpopclient: the token endpoint issued a token that is not DPoP-bound")
	// ErrConfig: the Config cannot work (no TokenURL, no credentials for
	// the chosen method, an unknown method).
	ErrConfig = errors.New("dpopclient: invalid Config")
	// ErrInsecureURL: an http (not https) URL for a host that is not a
	// loopback address. Client secrets and assertions never go there.
	ErrInsecureURL = errors.New("dpopclient: http is allowed for loopback addresses only")
)

// TokenError is an error response of a token endpoint (RFC 6749 §5.2).
type TokenError struct {
	StatusCode  int
	Code        string // the error member, e.g. invalid_client
	Description string
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("dpopclient: token endpoint: HTTP %d", e.StatusCode)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += " (" + e.Description + ")"
	}
	return s
}

// Config describes a client of an authorization server's token endpoint,
// which it asks for DPoP-bound tokens (RFC 9449 §5).
type Config struct {
	// TokenURL is the token endpoint (see Discover); https, or http on a
	// loopback address.
	TokenURL string
	ClientID string
	// ClientSecret is for client_secret_basic and client_secret_post.
	ClientSecret string
	// AuthMethod is AuthClientSecretBasic (the default when ClientSecret is
	// set), AuthClientSecretPost, AuthPrivateKeyJWT (the default when
	// AssertionKey is set) or AuthNone (a public client).
	AuthMethod string
	// AssertionKey signs private_key_jwt client assertions (RFC 7523 §2.2).
	// It identifies the client; use another key than the DPoP key.
	AssertionKey *Key
	// Scopes and Resource (RFC 8707) are sent with each request when set.
	Scopes   []string
	Resource string
	// Base sends the token requests; nil means http.DefaultTransport. It
	// must not be a dpopclient.Transport. Redirects are not followed.
	Base http.RoundTripper
	// Logger, when set, receives Debug records of the token requests.
	Logger *slog.Logger
	// RefreshBefore is how long before its expiry a token is replaced;
	// default 30 seconds, at most half of the token's lifetime.
	RefreshBefore time.Duration
}

// ClientCredentials returns a TokenSource that obtains tokens bound to key
// with the client credentials grant (RFC 6749 §4.4), caches each until
// shortly before it expires and then obtains a new one. Configuration
// mistakes are reported by the first Token call.
func (c Config) ClientCredentials(key *Key) TokenSource {
	return newSource(c, key, url.Values{"grant_type": {"client_credentials"}}, "")
}

// RefreshToken returns a TokenSource that redeems refreshToken (RFC 6749
// §6) for tokens bound to key, caches each until shortly before it expires
// and keeps the refresh token the server rotates to. A refresh token issued
// to a public client with DPoP is bound to the same key (RFC 9449 §5).
func (c Config) RefreshToken(key *Key, refreshToken string) TokenSource {
	return newSource(c, key, url.Values{"grant_type": {"refresh_token"}}, refreshToken)
}

type source struct {
	cfg     Config
	key     *Key
	grant   url.Values
	ex      exchanger
	lock    chan struct{} // one token request at a time; waiting respects ctx
	tok     *Token
	renewAt time.Time
	refresh string
}

func newSource(c Config, key *Key, grant url.Values, refresh string) *source {
	s := &source{cfg: c, key: key, grant: grant, lock: make(chan struct{}, 1), refresh: refresh}
	s.ex = exchanger{key: key, nonces: &nonceCache{}, base: c.Base, log: c.Logger}
	return s
}

func (s *source) Token(ctx context.Context) (*Token, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.lock }()
	if s.tok != nil && (s.renewAt.IsZero() || time.Now().Before(s.renewAt)) {
		t := *s.tok
		return &t, nil
	}
	tok, err := s.fetch(ctx)
	if err != nil {
		return nil, err
	}
	s.tok = tok
	s.renewAt = time.Time{}
	if !tok.Expiry.IsZero() {
		life := time.Until(tok.Expiry)
		before := s.cfg.RefreshBefore
		if before <= 0 {
			before = 30 * time.Second
		}
		before = min(before, life/2)
		s.renewAt = tok.Expiry.Add(-before)
	}
	if tok.RefreshToken != "" && s.grant.Get("grant_type") == "refresh_token" {
		s.refresh = tok.RefreshToken
	}
	t := *tok
	return &t, nil
}

// maxTokenResponse bounds a token endpoint's response body.
const maxTokenResponse = 1 << 20

func (s *source) fetch(ctx context.Context) (*Token, error) {
	c := s.cfg
	if s.key == nil {
		return nil, ErrNoKey
	}
	if c.TokenURL == "" || c.ClientID == "" {
		return nil, fmt.Errorf("%w: TokenURL and ClientID are required", ErrConfig)
	}
	u, err := url.Parse(c.TokenURL)
	if err != nil {
		return nil, fmt.Errorf("%w: TokenURL: %v", ErrConfig, err)
	}
	if err := checkSecure(u); err != nil {
		return nil, err
	}
	form := url.Values{}
	for k, v := range s.grant {
		form[k] = v
	}
	if s.grant.Get("grant_type") == "refresh_token" {
		if s.refresh == "" {
			return nil, fmt.Errorf("%w: no refresh token", ErrConfig)
		}
		form.Set("refresh_token", s.refresh)
	}
	if len(c.Scopes) > 0 {
		form.Set("scope", strings.Join(c.Scopes, " "))
	}
	if c.Resource != "" {
		form.Set("resource", c.Resource)
	}
	method := c.AuthMethod
	if method == "" {
		switch {
		case c.AssertionKey != nil:
			method = AuthPrivateKeyJWT
		case c.ClientSecret != "":
			method = AuthClientSecretBasic
		default:
			method = AuthNone
		}
	}
	if err := checkAuth(c, method); err != nil {
		return nil, err
	}
	build := func() (*http.Request, error) { return s.request(ctx, form, method) }
	req, err := build()
	if err != nil {
		return nil, err
	}
	res, err := s.ex.do(req, "", build)
	if err != nil {
		return nil, err
	}
	defer drain(res)
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxTokenResponse))
	if err != nil {
		return nil, fmt.Errorf("dpopclient: token endpoint: %w", err)
	}
	var r struct {
		AccessToken  string          `json:"access_token"`
		TokenType    string          `json:"token_type"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
		RefreshToken string          `json:"refresh_token"`
		Scope        string          `json:"scope"`
		Error        string          `json:"error"`
		Description  string          `json:"error_description"`
	}
	jsonErr := json.Unmarshal(raw, &r)
	if res.StatusCode != http.StatusOK {
		return nil, &TokenError{StatusCode: res.StatusCode, Code: r.Error, Description: r.Description}
	}
	if jsonErr != nil || r.AccessToken == "" {
		return nil, &TokenError{StatusCode: res.StatusCode, Description: "the response holds no access_token"}
	}
	if !strings.EqualFold(r.TokenType, "DPoP") {
		return nil, fmt.Errorf("%w (token_type %q)", ErrNotDPoP, r.TokenType)
	}
	tok := &Token{AccessToken: r.AccessToken, TokenType: "DPoP", RefreshToken: r.RefreshToken, Scope: r.Scope}
	if secs, ok := expiresIn(r.ExpiresIn); ok {
		tok.Expiry = time.Now().Add(time.Duration(secs) * time.Second)
	}
	return tok, nil
}

// expiresIn reads expires_in as a number or, as some servers send it, a
// string of digits.
func expiresIn(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	s := strings.Trim(string(raw), `"`)
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 1e9 {
		return int64(f), true
	}
	return 0, false
}

// checkSecure refuses http URLs whose host is not a loopback address.
func checkSecure(u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrInsecureURL, u.Redacted())
	}
	return fmt.Errorf("%w: %q is not an http(s) URL", ErrConfig, u.Redacted())
}

// IsLoopback reports whether host (a name or an IP address, without port)
// is localhost or a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func checkAuth(c Config, method string) error {
	switch method {
	case AuthClientSecretBasic, AuthClientSecretPost:
		if c.ClientSecret == "" {
			return fmt.Errorf("%w: %s needs ClientSecret", ErrConfig, method)
		}
	case AuthPrivateKeyJWT:
		if c.AssertionKey == nil {
			return fmt.Errorf("%w: private_key_jwt needs AssertionKey", ErrConfig)
		}
	case AuthNone:
	default:
		return fmt.Errorf("%w: unknown AuthMethod %q", ErrConfig, method)
	}
	return nil
}

// request builds one token request; each gets its own client assertion,
// since a server may refuse an assertion it has seen (RFC 7523 §3, jti).
func (s *source) request(ctx context.Context, params url.Values, method string) (*http.Request, error) {
	c := s.cfg
	form := url.Values{}
	for k, v := range params {
		form[k] = v
	}
	basic := false
	switch method {
	case AuthClientSecretBasic:
		basic = true
	case AuthClientSecretPost:
		form.Set("client_id", c.ClientID)
		form.Set("client_secret", c.ClientSecret)
	case AuthPrivateKeyJWT:
		now := time.Now()
		assertion, err := c.AssertionKey.k.JWS(map[string]any{"kid": c.AssertionKey.kid, "typ": "JWT"}, map[string]any{
			"iss": c.ClientID, "sub": c.ClientID, "aud": c.TokenURL, "jti": sign.RandomID(),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		})
		if err != nil {
			return nil, err
		}
		form.Set("client_id", c.ClientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	case AuthNone:
		form.Set("client_id", c.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: TokenURL: %v", ErrConfig, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		// RFC 6749 §2.3.1: form-urlencode each part first.
		req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	}
	return req, nil
}
