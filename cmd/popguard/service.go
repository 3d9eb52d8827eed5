package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/uri"
	"github.com/popguard/popguard/middleware"
)

// Reasons of the refusals the service makes itself, before a route's
// policy runs. Like the library's, they never change meaning.
const (
	// reasonGatewayUntrusted: the peer is not a trusted gateway.
	reasonGatewayUntrusted popguard.Reason = "gateway_untrusted"
	// reasonGatewayProtocol: the gateway's request does not carry the
	// original method and URI in exactly one header family.
	reasonGatewayProtocol popguard.Reason = "gateway_protocol"
	// reasonNoRoute: no route covers the path.
	reasonNoRoute popguard.Reason = "no_route"
	// reasonAmbiguousRoute: the path's spellings (as sent, percent-decoded,
	// lower-cased) fall under different routes.
	reasonAmbiguousRoute popguard.Reason = "request_ambiguous_route"
	// reasonNotReady: the issuer's keys are not loaded yet.
	reasonNotReady popguard.Reason = "not_ready"
)

// protocol is how a gateway passes the original request.
type protocol int

const (
	protoAuto  protocol = iota // /check: nginx or forward-auth headers, exactly one family
	protoEnvoy                 // Envoy ext_authz HTTP: prefix + original path, original method
)

// family is the header family a /check request used.
type family int

const (
	familyNone     family = iota
	familyNginx           // X-Original-Method, X-Original-URI
	familyForwards        // X-Forwarded-Method, X-Forwarded-Uri (Traefik, Caddy)
	familyEnvoy
)

// maxTargetLen caps the original URI.
const maxTargetLen = 8192

// engine is what answers decisions once the issuer's keys are loaded.
type engine struct {
	guard  *middleware.Guard
	routes []boundRoute // longest prefix first
}

type boundRoute struct {
	route
	check *middleware.Route
}

// service is the decision service's HTTP handler.
type service struct {
	cfg     *settings
	log     *slog.Logger
	metrics *metrics
	engine  atomic.Pointer[engine]
	// ping checks the replay store for /readyz (nil for the memory store).
	ping func(context.Context) error
	// addr is the listener's address, once listening.
	addr string
}

func newService(cfg *settings, log *slog.Logger, m *metrics) *service {
	return &service{cfg: cfg, log: log, metrics: m}
}

// ServeHTTP routes the service's own endpoints.
func (sv *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/check":
		sv.decide(w, r, protoAuto)
	case strings.HasPrefix(r.RequestURI, sv.cfg.envoyPrefix+"/"):
		sv.decide(w, r, protoEnvoy)
	case path == "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	case path == "/readyz":
		sv.readyz(w, r)
	case path == "/metrics":
		sv.metrics.serve(w, sv.engine.Load() != nil)
	default:
		http.NotFound(w, r)
	}
}

func (sv *service) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if sv.engine.Load() == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("issuer keys not loaded\n"))
		return
	}
	if sv.ping != nil {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		err := sv.ping(ctx)
		cancel()
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("replay store unavailable\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

// trusted reports whether the peer is a trusted gateway.
func (sv *service) trusted(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range sv.cfg.gateways {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// original reads the original method and request target from a gateway
// request, in the one protocol it speaks.
func (sv *service) original(r *http.Request, p protocol) (method, target string, fam family, err error) {
	if p == protoEnvoy {
		// ext_authz appends the original path (with its query) to
		// path_prefix and keeps the original method.
		return r.Method, strings.TrimPrefix(r.RequestURI, sv.cfg.envoyPrefix), familyEnvoy, nil
	}
	nginx := r.Header.Values("X-Original-Method") != nil || r.Header.Values("X-Original-URI") != nil
	fwd := r.Header.Values("X-Forwarded-Method") != nil || r.Header.Values("X-Forwarded-Uri") != nil
	one := func(name string) (string, error) {
		v := r.Header.Values(name)
		if len(v) != 1 {
			return "", errors.New("want exactly one " + name + " field")
		}
		return v[0], nil
	}
	switch {
	case nginx && fwd:
		// Each gateway overwrites its own family only: the other one came
		// from the client. Neither can be believed.
		return "", "", familyNginx, errors.New("both X-Original-* and X-Forwarded-Method/-Uri are present")
	case nginx:
		fam = familyNginx
		if method, err = one("X-Original-Method"); err == nil {
			target, err = one("X-Original-URI")
		}
	case fwd:
		fam = familyForwards
		if method, err = one("X-Forwarded-Method"); err == nil {
			target, err = one("X-Forwarded-Uri")
		}
	default:
		return "", "", familyNone, errors.New("no X-Original-Method/-URI (nginx) or X-Forwarded-Method/-Uri (Traefik, Caddy)")
	}
	return method, target, fam, err
}

// validMethod reports whether m is an RFC 9110 token of sensible length.
func validMethod(m string) bool { return len(m) <= 32 && validHeaderName(m) }

// validTarget reports whether t is an origin-form request target made of
// visible ASCII without a fragment: what an HTTP/1.1 request line may
// carry.
func validTarget(t string) bool {
	if t == "" || t[0] != '/' || len(t) > maxTargetLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= 0x20 || t[i] >= 0x7f || t[i] == '#' {
			return false
		}
	}
	return true
}

// match returns the route of the longest prefix covering path, nil if
// none does.
func (e *engine) match(path string, fold bool) *boundRoute {
	for i := range e.routes {
		p := e.routes[i].prefix
		if fold {
			p = strings.ToLower(p)
		}
		if p == "/" || path == p || (strings.HasPrefix(path, p) && path[len(p)] == '/') {
			return &e.routes[i]
		}
	}
	return nil
}

// routeOf picks the route of a raw (escaped) path. The gateway and the
// upstream may route on the path as sent, percent-decoded, or (on some
// servers) case-insensitively: when these spellings fall under different
// routes, the request is refused rather than checked under the weaker one.
func (e *engine) routeOf(raw string) (*boundRoute, popguard.Reason) {
	rt := e.match(raw, false)
	spellings := []string{raw}
	if dec, err := url.PathUnescape(raw); err == nil && dec != raw {
		spellings = append(spellings, dec)
	}
	for _, s := range spellings {
		if e.match(s, false) != rt || e.match(strings.ToLower(s), true) != rt {
			return nil, reasonAmbiguousRoute
		}
	}
	if rt == nil {
		return nil, reasonNoRoute
	}
	return rt, ""
}

// decide answers one gateway request.
func (sv *service) decide(w http.ResponseWriter, r *http.Request, p protocol) {
	if !sv.trusted(r.RemoteAddr) {
		// Never guess the original request from an untrusted peer's own
		// method, Host and path.
		sv.refuse(w, r, familyNone, "", http.StatusForbidden, reasonGatewayUntrusted, popguard.CodeNone, "")
		return
	}
	method, target, fam, err := sv.original(r, p)
	if err != nil {
		sv.log.LogAttrs(r.Context(), slog.LevelWarn, "popguard: gateway request unreadable",
			slog.String("cause", err.Error()), slog.String("remote", r.RemoteAddr))
		sv.refuse(w, r, fam, "", http.StatusBadRequest, reasonGatewayProtocol, popguard.CodeInvalidRequest, "The gateway request does not name the original request")
		return
	}
	if !validMethod(method) || !validTarget(target) {
		sv.refuse(w, r, fam, "", http.StatusBadRequest, popguard.ReasonRequestBadTarget, popguard.CodeInvalidRequest, "The request target is not valid")
		return
	}
	eng := sv.engine.Load()
	if eng == nil {
		w.Header().Set("Retry-After", "1")
		sv.refuse(w, r, fam, "", http.StatusServiceUnavailable, reasonNotReady, popguard.CodeTemporarilyUnavailable, "The service is starting; retry shortly")
		return
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		sv.refuse(w, r, fam, "", http.StatusBadRequest, popguard.ReasonRequestBadTarget, popguard.CodeInvalidRequest, "The request target is not valid")
		return
	}
	rawPath, _, _ := strings.Cut(target, "?")
	if uri.HasDotSegment(rawPath) || uri.HasDotSegment(u.Path) {
		// The library refuses these too; refusing before the route is
		// picked keeps a dot-segment from steering the route choice.
		e := uri.DotSegmentRejection(nil)
		sv.refuse(w, r, fam, "", http.StatusBadRequest, e.Reason, e.Code, e.Description)
		return
	}
	rt, reason := eng.routeOf(rawPath)
	if rt == nil {
		if reason == reasonNoRoute {
			sv.refuse(w, r, fam, "", http.StatusForbidden, reason, popguard.CodeNone, "")
		} else {
			sv.refuse(w, r, fam, "", http.StatusBadRequest, reason, popguard.CodeInvalidRequest, "The request path is ambiguous")
		}
		return
	}
	// The request as the client sent it to the gateway: its method and
	// target, the gateway's copy of its headers, no body. The origin comes
	// from the public URL (middleware.WithPublicURL), never from a header.
	orig := (&http.Request{
		Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: r.Header, Host: u.Host, RemoteAddr: r.RemoteAddr, Body: http.NoBody,
	}).WithContext(r.Context())
	res, hdr, err := rt.check.Check(orig)
	if err != nil {
		sv.deny(w, orig, fam, err)
		return
	}
	sv.allow(w, res, hdr)
}

// allow answers 200 with the caller's identity.
func (sv *service) allow(w http.ResponseWriter, res *popguard.Result, hdr http.Header) {
	h := w.Header()
	for k, v := range hdr {
		h[k] = v
	}
	names := sv.cfg.headers
	h.Set(names.Scheme, res.Scheme.String())
	h.Set(names.Subject, headerValue(res.Subject))
	h.Set(names.ClientID, headerValue(res.ClientID))
	h.Set(names.Scopes, headerValue(strings.Join(res.Scopes, " ")))
	// Always present, empty for an unbound token: Caddy 2.6 copies an
	// absent header as its unexpanded placeholder.
	h.Set(names.JKT, res.KeyThumbprint)
	h.Set("X-Auth-Status", "200")
	w.WriteHeader(http.StatusOK)
}

// headerValue makes a claim value safe to pass as a header: bytes outside
// printable ASCII, and '%' itself, are percent-encoded, so the upstream
// reads exactly what the token said and nothing a header could smuggle.
func headerValue(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// deny writes a library rejection, within what the gateway can relay.
func (sv *service) deny(w http.ResponseWriter, r *http.Request, fam family, err error) {
	var rej *middleware.Rejection
	if !errors.As(err, &rej) {
		// Check returns only Rejections; anything else is a bug, answered
		// as the library answers an internal error.
		e := popguard.NewError(popguard.CodeInvalidToken, popguard.ReasonInternal, "", err)
		rej = &middleware.Rejection{Err: e, Status: http.StatusUnauthorized, Header: http.Header{}}
	}
	out := *rej
	out.Header = rej.Header.Clone()
	out.Header.Set("X-Auth-Status", strconv.Itoa(rej.Status))
	if fam == familyNginx {
		out.Status = nginxStatus(rej.Status)
		// nginx 1.22 copies one WWW-Authenticate field from a 401 and
		// reads one through $upstream_http_www_authenticate: fold the
		// challenges into one field (RFC 9110 §11.6.1 allows a list).
		if c := out.Header.Values("WWW-Authenticate"); len(c) > 1 {
			out.Header.Set("WWW-Authenticate", strings.Join(c, ", "))
		}
	}
	middleware.WriteRejection(w, r, &out)
}

// nginxStatus maps a status onto what nginx's auth_request relays: 2xx
// allows, 401 and 403 are passed to the client, and anything else becomes
// nginx's own 500. A malformed request (400, 431) is refused as 403, so a
// client fault never turns into a server error. 429 and 503 (replay store
// busy or down, keys unavailable) are left as they are: nginx then fails
// the request with 500, which the shipped configuration turns into 503
// with Retry-After (error_page 500 =503), the same answer it gives when
// popguard cannot be reached at all.
func nginxStatus(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusRequestHeaderFieldsTooLarge:
		return http.StatusForbidden
	}
	return status
}

// refuse answers a refusal the service makes before a route's policy runs,
// and logs and counts it.
func (sv *service) refuse(w http.ResponseWriter, r *http.Request, fam family, route string, status int, reason popguard.Reason, code popguard.ErrorCode, desc string) {
	level := slog.LevelInfo
	if status >= 500 || reason == reasonGatewayUntrusted {
		level = slog.LevelWarn
	}
	sv.log.LogAttrs(r.Context(), level, "popguard: request refused", slog.String("reason", string(reason)),
		slog.Int("status", status), slog.String("remote", r.RemoteAddr))
	if route == "" {
		route = "none"
	}
	sv.metrics.Observe(middleware.Event{Route: route, Outcome: middleware.Rejected, Reason: reason})
	h := w.Header()
	h.Set("X-Auth-Status", strconv.Itoa(status))
	h.Set("Cache-Control", "no-store")
	if fam == familyNginx {
		status = nginxStatus(status)
	}
	if code == popguard.CodeNone {
		w.WriteHeader(status)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{string(code), desc})
}
