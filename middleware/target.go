package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/uri"
)

// publicBase is a configured external origin plus optional path prefix.
type publicBase struct {
	origin string // scheme://host[:port]
	prefix string // "" or "/prefix" without trailing slash
	host   string // host[:port] as configured, lower case
	scheme string
}

func parsePublicURL(raw string) (*publicBase, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("middleware: public URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, errors.New("middleware: public URL must be http(s)")
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("middleware: public URL must be an origin with an optional path, no userinfo, query or fragment")
	}
	if !validHost(u.Host) {
		return nil, errors.New("middleware: public URL host is not valid")
	}
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	return &publicBase{origin: u.Scheme + "://" + strings.ToLower(u.Host), prefix: prefix, host: strings.ToLower(u.Host), scheme: u.Scheme}, nil
}

// validHost checks host[:port] against the grammar of internal/uri before
// it is used to build a URI or compared with the allow-list: a registered
// name, IPv4 address or IPv6 literal, then an optional port 1..65535. This
// closes Host-header tricks such as "api.example.com/other?" being laundered
// into a different path, and keeps the host the middleware accepts the one
// the DPoP and SHR checks accept.
func validHost(h string) bool {
	_, err := uri.ParseAuthority(h)
	return err == nil
}

// validPrefix checks an X-Forwarded-Prefix value: an absolute path of
// RFC 3986 pchars with well-formed percent-encodings and no dot-segment, the
// rule of a request path.
func validPrefix(p string) bool {
	if len(p) > 256 {
		return false
	}
	_, err := uri.CheckPath(p)
	return err == nil
}

// Target describes the URI the client addressed, as the proof checks see it.
type target struct {
	scheme string
	host   string // host[:port]
	path   string // escaped path, with any public prefix
	query  string // raw query
}

func (t target) uri() string {
	s := t.scheme + "://" + t.host + t.path
	if t.query != "" {
		s += "?" + t.query
	}
	return s
}

// requestTarget returns the path and query of the request target as
// received (the origin-form request-target, HTTP/2 :path), not re-escaped,
// or r.URL's escaped path and raw query for an absolute-form target.
func requestTarget(r *http.Request) (path, query string) {
	if rt := r.RequestURI; rt != "" && rt[0] == '/' {
		path, query, _ = strings.Cut(rt, "?")
		return path, query
	}
	return r.URL.EscapedPath(), r.URL.RawQuery
}

// checkPath refuses a request whose path holds a dot-segment in any
// spelling, on the wire or in r.URL.Path as the handler sees it: routers
// disagree on such paths (Go's ServeMux routes "/a/%2E%2E/b" to "/a/", chi
// and echo never remove dot-segments), so the path a proof is compared with
// would not be the one the handler serves. It applies to every scheme, so a
// route behaves the same whatever credentials arrive.
func checkPath(r *http.Request) error {
	if path, _ := requestTarget(r); uri.HasDotSegment(path) || uri.HasDotSegment(r.URL.Path) {
		return uri.DotSegmentRejection(nil)
	}
	return nil
}

// targetOf reconstructs the target URI as the client saw it (RFC 9112
// §3.3). The origin comes from configuration: the public URL, or the
// allow-list of public hosts (the host read from the request or from a
// trusted proxy's headers, then checked against the list), or, only when
// the user opted into it for development, the request's host unchecked.
func (g *Guard) targetOf(r *http.Request) (target, error) {
	// The path exactly as received on the wire (origin-form request-target),
	// not re-escaped: SHR p is compared exactly and a handler chain may
	// have rewritten r.URL (http.StripPrefix).
	path, query := requestTarget(r)
	// A request-target never has a fragment (RFC 9112 §3.2). Dropping one
	// here while the handler sees it in RawQuery would leave the checked
	// and the served URIs different, so refuse it.
	if strings.IndexByte(r.RequestURI, '#') >= 0 || strings.IndexByte(query, '#') >= 0 || strings.IndexByte(path, '#') >= 0 {
		return target{}, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget, "The request target must not have a fragment", nil)
	}
	if path == "" {
		path = "/"
	}
	t := target{path: path, query: query}
	if g.public != nil {
		t.scheme, t.host, t.path = g.public.scheme, g.public.host, g.public.prefix+path
		return t, nil
	}
	t.scheme = "http"
	if r.TLS != nil {
		t.scheme = "https"
	}
	t.host = r.Host
	if g.trustedPeer(r) {
		if err := applyForwarded(r, g.proxyHdrs, &t); err != nil {
			return target{}, err
		}
	}
	if !validHost(t.host) {
		return target{}, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget, "The request host is not valid", nil)
	}
	if !g.anyHost && !g.publicHost(t.scheme, t.host) {
		return target{}, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestHostNotAllowed, "The request host is not one this server answers for", nil)
	}
	return t, nil
}

// publicHost reports whether host (valid, host[:port]) is on the allow-list
// of WithPublicHosts, ASCII case-insensitively and with the scheme's default
// port optional on either side (an empty port is the default port).
func (g *Guard) publicHost(scheme, host string) bool {
	want := uri.WithoutDefaultPort(scheme, strings.ToLower(host))
	for _, h := range g.hosts {
		if uri.WithoutDefaultPort(scheme, h) == want {
			return true
		}
	}
	return false
}

func (g *Guard) trustedPeer(r *http.Request) bool { return peerIn(r, g.trusted) }

// last returns the last comma-separated element of the last field line: the
// value written by the nearest proxy, which is the trusted one. Commas inside
// quoted-strings (RFC 9110 §5.6.4, used by Forwarded) do not separate
// elements; an unterminated quote makes the value invalid (ok is true, the
// value is "\"" so that every later check fails).
func last(h http.Header, name string) (string, bool) {
	vals := h.Values(name)
	if len(vals) == 0 {
		return "", false
	}
	v := vals[len(vals)-1]
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			start = i + 1
		}
	}
	if quoted {
		return `"`, true
	}
	return trimOWS(v[start:]), true
}

// applyForwarded reads the scheme, host and prefix a trusted proxy passed in
// the one header family the Guard is configured for; the other family is
// never read.
func applyForwarded(r *http.Request, family ProxyHeaders, t *target) error {
	bad := func() error {
		return popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget, "The forwarding headers are not valid", nil)
	}
	if family == Forwarded {
		fwd, ok := last(r.Header, "Forwarded")
		if !ok {
			return nil
		}
		// RFC 7239: proto=https;host=api.example.com. An element that is not
		// a list of token=value pairs (an unterminated quoted-string, which
		// last reports as a lone quote, an empty or '='-less pair) means the
		// proxy's element was mangled by what the client sent before it:
		// refuse it rather than fall back to the request's own Host and
		// scheme.
		for _, pair := range splitUnquoted(fwd, ';') {
			k, v, ok := strings.Cut(trimOWS(pair), "=")
			if !ok || k == "" || strings.ContainsAny(k, `" `) {
				return bad()
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1] // a quoted host must still pass validHost: no escapes, no commas
			}
			switch strings.ToLower(k) {
			case "proto":
				v = strings.ToLower(v)
				if v != "http" && v != "https" {
					return bad()
				}
				t.scheme = v
			case "host":
				t.host = v
			}
		}
		return nil
	}
	if proto, ok := last(r.Header, "X-Forwarded-Proto"); ok {
		proto = strings.ToLower(proto)
		if proto != "http" && proto != "https" {
			return bad()
		}
		t.scheme = proto
	}
	if host, ok := last(r.Header, "X-Forwarded-Host"); ok {
		t.host = host
	}
	if prefix, ok := last(r.Header, "X-Forwarded-Prefix"); ok {
		if !validPrefix(prefix) {
			return bad()
		}
		t.path = strings.TrimRight(prefix, "/") + t.path
	}
	return nil
}

// splitUnquoted splits s on sep outside quoted-strings.
func splitUnquoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
