package dpopclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/popguard/popguard/internal/sign"
	"github.com/popguard/popguard/internal/uri"
)

// Errors of Transport.RoundTrip, matched with errors.Is.
var (
	// ErrNoKey: the Transport has no Key.
	ErrNoKey = errors.New("dpopclient: Transport.Key is nil")
	// ErrNoTokens: the Transport has no token source.
	ErrNoTokens = errors.New("dpopclient: Transport.Tokens is nil")
	// ErrURL: the request URL is not an absolute http or https URL.
	ErrURL = errors.New("dpopclient: the request URL is not an absolute http(s) URL")
)

// Transport is an http.RoundTripper that sends every request with an access
// token from Tokens, bound to Key:
//
//   - DPoP (RFC 9449 §7): Authorization: DPoP <token> and a fresh DPoP proof
//     for the request's exact method and URL (htu without query and
//     fragment, ath of the token, a random jti);
//   - with MicrosoftPoP: Authorization: PoP <signed HTTP request> in
//     MSAL.NET's format (m, u, p, ts, nonce, at, cnf), RSA or EC keys.
//
// When a server answers 401 with error="use_dpop_nonce" and a DPoP-Nonce
// (RFC 9449 §9), or 400 use_dpop_nonce as a token endpoint does (§8), or a
// PoP challenge with a nonce, the request is sent once more with that nonce.
// Nonces are remembered per origin and replaced by the ones servers send on
// any response. A request with a body is sent again only when it can be
// replayed (Request.GetBody, which http.NewRequest sets for in-memory
// bodies); otherwise the nonce challenge is returned as it came.
//
// The zero value is not usable: set Key and Tokens. A Transport is safe for
// concurrent use; do not copy it after first use.
type Transport struct {
	// Key signs proofs; it must be the key the access tokens are bound to.
	Key *Key
	// Tokens supplies the access tokens.
	Tokens TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// MicrosoftPoP signs Microsoft PoP requests instead of DPoP proofs.
	MicrosoftPoP bool
	// Logger, when set, receives one Debug record per exchange.
	Logger *slog.Logger

	nonces nonceCache
}

// Client returns an *http.Client that sends its requests through t.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Key == nil {
		closeBody(req)
		return nil, ErrNoKey
	}
	if t.Tokens == nil {
		closeBody(req)
		return nil, ErrNoTokens
	}
	tok, err := t.Tokens.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	ex := exchanger{key: t.Key, pop: t.MicrosoftPoP, nonces: &t.nonces, base: t.Base, log: t.Logger}
	return ex.do(req, tok.AccessToken, nil)
}

// exchanger sends one request with a proof, and once more when the server
// asks for a nonce. The Transport uses it for resource requests, the token
// sources for token requests (accessToken empty: no Authorization set).
type exchanger struct {
	key    *Key
	pop    bool
	nonces *nonceCache
	base   http.RoundTripper
	log    *slog.Logger
}

// do sends req; when the server asks for a nonce, it sends the request once
// more, built by rebuild when set (a token request with a fresh client
// assertion), else req with its body from GetBody.
func (e exchanger) do(req *http.Request, accessToken string, rebuild func() (*http.Request, error)) (*http.Response, error) {
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
		closeBody(req)
		return nil, ErrURL
	}
	base := e.base
	if base == nil {
		base = http.DefaultTransport
	}
	origin := originOf(req.URL)
	nonce := e.nonces.get(e.kind(), origin)
	res, err := e.send(base, req, req.Body, accessToken, nonce)
	if err != nil {
		return nil, err
	}
	next, retry := e.readNonce(res)
	if next != "" {
		e.nonces.put(e.kind(), origin, next)
	}
	e.logExchange(req, res, nonce, retry)
	if !retry || next == "" {
		return res, nil
	}
	if rebuild != nil {
		if req, err = rebuild(); err != nil {
			return res, nil
		}
	}
	body := req.Body
	if rebuild == nil && body != nil && body != http.NoBody {
		if req.GetBody == nil {
			return res, nil // cannot replay the body: the caller sees the challenge
		}
		if body, err = req.GetBody(); err != nil {
			return res, nil
		}
	}
	drain(res)
	res, err = e.send(base, req, body, accessToken, next)
	if err != nil {
		return nil, err
	}
	if n, _ := e.readNonce(res); n != "" {
		e.nonces.put(e.kind(), origin, n)
	}
	e.logExchange(req, res, next, false)
	return res, nil
}

func (e exchanger) kind() string {
	if e.pop {
		return "PoP"
	}
	return "DPoP"
}

func (e exchanger) send(base http.RoundTripper, req *http.Request, body io.ReadCloser, accessToken, nonce string) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Body = body
	if e.pop {
		host, path := uri.HostPort(req.URL), req.URL.EscapedPath()
		var ts time.Time
		if nonce != "" {
			ts = e.nonces.popTime(nonce + " " + req.Method + " " + host + path)
		}
		shr, err := e.key.k.SHR(accessToken, sign.SHROptions{
			Method: req.Method, Host: host, Path: path, Nonce: nonce, TS: ts, Format: sign.MSALNet,
		})
		if err != nil {
			closeRC(body)
			return nil, err
		}
		r.Header.Set("Authorization", "PoP "+shr)
	} else {
		proof, err := e.key.k.Proof(req.Method, htuOf(req.URL), sign.ProofOptions{AccessToken: accessToken, Nonce: nonce})
		if err != nil {
			closeRC(body)
			return nil, err
		}
		r.Header.Set("DPoP", proof)
		if accessToken != "" {
			r.Header.Set("Authorization", "DPoP "+accessToken)
		}
	}
	return base.RoundTrip(r)
}

// maxErrorBody bounds what is read of a 400 to look for use_dpop_nonce.
const maxErrorBody = 64 << 10

// readNonce returns the nonce a response carries for the next request and
// whether the response asks for the request to be sent again with it.
func (e exchanger) readNonce(res *http.Response) (string, bool) {
	if e.pop {
		if res.StatusCode == http.StatusUnauthorized {
			if p, ok := challengeParams(res.Header, "PoP"); ok && p["nonce"] != "" {
				return p["nonce"], true
			}
		}
		for _, v := range res.Header.Values("Authentication-Info") {
			if p := parseChallenges("x " + v); len(p) == 1 && p[0].params["nextnonce"] != "" {
				return p[0].params["nextnonce"], false
			}
		}
		return "", false
	}
	next := res.Header.Get("DPoP-Nonce")
	switch res.StatusCode {
	case http.StatusUnauthorized:
		p, ok := challengeParams(res.Header, "DPoP")
		return next, ok && p["error"] == "use_dpop_nonce"
	case http.StatusBadRequest:
		if next == "" || res.Body == nil {
			return next, false
		}
		// A token endpoint's error is JSON (RFC 6749 §5.2).
		b, err := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), res.Body), res.Body}
		if err != nil {
			return next, false
		}
		var oe struct {
			Error string `json:"error"`
		}
		return next, json.Unmarshal(b, &oe) == nil && oe.Error == "use_dpop_nonce"
	}
	return next, false
}

func (e exchanger) logExchange(req *http.Request, res *http.Response, nonce string, retry bool) {
	if e.log == nil {
		return
	}
	e.log.LogAttrs(req.Context(), slog.LevelDebug, "dpopclient exchange",
		slog.String("scheme", e.kind()), slog.String("method", req.Method),
		slog.String("url", htuOf(req.URL)), slog.Int("status", res.StatusCode),
		slog.Bool("nonce_sent", nonce != ""), slog.Bool("nonce_retry", retry))
}

// htuOf returns u without query, fragment and user information: the htu of
// RFC 9449 §4.2. An empty path is written as "/".
func htuOf(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if v.Path == "" {
		v.Path, v.RawPath = "/", ""
	}
	return v.String()
}

// originOf returns scheme://host[:port] in lower case, default port dropped.
func originOf(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	scheme := strings.ToLower(u.Scheme)
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host
}

// nonceCache remembers the last nonce of each origin, per scheme.
type nonceCache struct {
	mu sync.Mutex
	m  map[string]string
	ts map[string]int64 // PoP: last ts signed per nonce and request
}

// maxPoPAhead bounds how far popTime moves ts ahead of the clock; servers
// accept some future skew (popguard 30 seconds).
const maxPoPAhead = 5

// popTime returns the ts for a PoP request signed with a server nonce. An
// SHR has no jti: two SHRs with the same nonce, method, URL and second are
// the same statement, which a server must refuse as a replay. So each such
// request gets a later second than the previous one, up to maxPoPAhead
// seconds ahead of the clock (past that, requests to one URL faster than one
// a second need fresh server nonces).
func (c *nonceCache) popTime(key string) time.Time {
	now := time.Now().Unix()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ts == nil || len(c.ts) >= maxOrigins {
		c.ts = map[string]int64{}
	}
	ts := now
	if last, ok := c.ts[key]; ok && last >= now {
		ts = min(last+1, now+maxPoPAhead)
	}
	c.ts[key] = ts
	return time.Unix(ts, 0)
}

// maxOrigins bounds the nonce cache; past it, an arbitrary entry goes (the
// worst that happens is one more nonce challenge).
const maxOrigins = 1024

func (c *nonceCache) get(kind, origin string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[kind+" "+origin]
}

func (c *nonceCache) put(kind, origin, nonce string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	k := kind + " " + origin
	if _, ok := c.m[k]; !ok && len(c.m) >= maxOrigins {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = nonce
}

func drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxErrorBody))
	_ = res.Body.Close()
}

func closeBody(req *http.Request) {
	if req != nil {
		closeRC(req.Body)
	}
}

func closeRC(rc io.ReadCloser) {
	if rc != nil {
		_ = rc.Close()
	}
}
