package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/uri"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// Config is the decision service's configuration: a JSON file (read with the
// standard library's encoding/json, unknown fields refused) that flags add
// to and override. Secrets never live here: the nonce secrets and the Redis
// URL (when it holds a password) come from the environment.
type Config struct {
	// Listen is the address the service listens on (-listen).
	Listen string `json:"listen"`
	// PublicURL is the origin clients address, the one DPoP htu and PoP u
	// are checked against (-public-url). It has no path: the gateway passes
	// the whole path the client used.
	PublicURL string `json:"public_url"`
	// Issuers are the trusted token issuers (-issuer, -audience, -jwks).
	// One today; the list leaves room for several and for profiles.
	Issuers []IssuerConfig `json:"issuers"`
	// Routes map path prefixes to a mode (-route PREFIX=MODE).
	Routes []RouteConfig `json:"routes"`
	// TrustedGateways are the CIDRs (or addresses) whose requests are
	// decided (-trusted-gateway); any other peer is refused.
	TrustedGateways []string `json:"trusted_gateways"`
	// Replay is the replay store.
	Replay ReplayConfig `json:"replay"`
	// Nonce requires server nonces on every DPoP and PoP route (-nonce);
	// a route may override it.
	Nonce bool `json:"nonce"`
	// MSALBrowserCompat accepts msal-browser's lower-cased SHR URL form on
	// PoP routes (validate.MSALBrowserCompat).
	MSALBrowserCompat bool `json:"msal_browser_compat"`
	// IdentityHeaders names the headers of an allowed answer.
	IdentityHeaders IdentityHeaders `json:"identity_headers"`
	// EnvoyPrefix is the path prefix of Envoy ext_authz's HTTP service
	// (its path_prefix); default "/envoy".
	EnvoyPrefix string `json:"envoy_prefix"`
	// ShutdownTimeout bounds the graceful shutdown (a Go duration, default "10s").
	ShutdownTimeout string `json:"shutdown_timeout"`
	// ClientCert reads the client certificate of certificate-bound tokens
	// (RFC 8705) from the header the gateway forwards (-client-cert-header).
	ClientCert ClientCertConfig `json:"client_cert"`
}

// ClientCertConfig names the form and header in which the gateway forwards
// the client certificate its TLS server verified: "nginx"
// ($ssl_client_escaped_cert, header X-SSL-Client-Cert by default),
// "rfc9440" (Client-Cert) or "envoy" (x-forwarded-client-cert). It is
// believed from trusted gateways only. Empty: certificate-bound tokens are
// refused (no certificate reaches popguard).
type ClientCertConfig struct {
	Form   string `json:"form"`
	Header string `json:"header"`
}

// option returns the Guard option of the configuration, or nil when off.
func (c ClientCertConfig) option(gateways []string) (middleware.Option, error) {
	var form middleware.ClientCertHeader
	switch c.Form {
	case "":
		if c.Header != "" {
			return nil, configErr("client_cert: a header without a form")
		}
		return nil, nil
	case "nginx":
		form = middleware.ClientCertNginx
	case "rfc9440":
		form = middleware.ClientCertRFC9440
	case "envoy":
		form = middleware.ClientCertEnvoy
	default:
		return nil, configErr("client_cert: form %q is not nginx, rfc9440 or envoy", c.Form)
	}
	return middleware.WithForwardedClientCert(form, c.Header, gateways...), nil
}

// IssuerConfig is one trusted issuer. Unknown fields are refused so a typo
// never passes.
type IssuerConfig struct {
	Issuer   string `json:"issuer"`
	Audience string `json:"audience"`
	// JWKS is an http(s) URL (fetched and refreshed) or a file; empty, the
	// keys are discovered from the issuer's metadata.
	JWKS string `json:"jwks,omitempty"`
	// Profile is the issuer's token shape: rfc9068 (default), entra,
	// keycloak, okta or auth0 (validate.ProfileByName).
	Profile string `json:"profile,omitempty"`
	// Tenants lists the tenants accepted from a multi-tenant issuer (one
	// holding {tenantid}, with profile entra).
	Tenants []string `json:"tenants,omitempty"`
	// AcceptJWTType also accepts tokens with typ "JWT" or none, the client
	// in azp or appid (kept for compatibility; prefer a profile).
	AcceptJWTType bool `json:"accept_jwt_typ,omitempty"`
}

// profile returns the issuer's validate.Profile.
func (ic IssuerConfig) profile() (validate.Profile, error) {
	p, ok := validate.ProfileByName(ic.Profile)
	if !ok {
		return p, configErr("issuer %q: unknown profile %q (rfc9068, entra, keycloak, okta, auth0)", ic.Issuer, ic.Profile)
	}
	if ic.AcceptJWTType {
		p.Types = append(p.Types, "JWT", "")
		p.Required = []string{"iss", "sub", "aud", "exp", "iat"}
		p.ClientClaims = append(p.ClientClaims, "azp", "appid")
	}
	return p, nil
}

// RouteConfig is one route.
type RouteConfig struct {
	// Prefix is a path prefix: "/" or an absolute path. "/a/" and "/a"
	// both cover "/a" and everything under "/a/", never "/ab".
	Prefix string `json:"prefix"`
	// Mode is bearer, mixed, dpop, pop, proof, or report:<mode>.
	Mode string `json:"mode"`
	// Scopes must all be granted (403 insufficient_scope otherwise).
	Scopes []string `json:"scopes,omitempty"`
	// Nonce overrides the service-wide nonce setting for this route.
	Nonce *bool `json:"nonce,omitempty"`
	// Bound accepts only tokens bound to the caller: certificate-bound
	// ones with their certificate, DPoP and PoP ones with their proof
	// (middleware.RequireBoundToken). It needs a mode that takes Bearer
	// (with the others it would change nothing), and with bearer alone a
	// client_cert (without one it would refuse everything).
	Bound bool `json:"bound,omitempty"`
	// Name names the route in logs and metrics (default: the prefix).
	Name string `json:"name,omitempty"`
}

// ReplayConfig selects the replay store.
type ReplayConfig struct {
	// Store is "memory" (default) or a redis://, rediss:// or unix:// URL
	// (-replay). POPGUARD_REDIS_URL, when set, overrides it, so that a
	// password stays out of files and process lists.
	Store string `json:"store"`
	// Capacity of the memory store (default 100000).
	Capacity int `json:"capacity,omitempty"`
	// Prefix of the Redis keys (default redisstore.DefaultPrefix).
	Prefix string `json:"prefix,omitempty"`
	// FailOpen accepts proofs unchecked when Redis cannot answer, logged
	// at Error for each. The default fails closed (503).
	FailOpen bool `json:"fail_open,omitempty"`
}

// IdentityHeaders are the names of the headers an allowed answer carries,
// which the gateway copies to the upstream request.
type IdentityHeaders struct {
	Subject  string `json:"subject,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Scheme   string `json:"scheme,omitempty"`
	Scopes   string `json:"scopes,omitempty"`
	JKT      string `json:"jkt,omitempty"`
}

// ErrConfig marks every configuration error, for errors.Is.
var ErrConfig = errors.New("popguard: invalid configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// readConfig reads a JSON configuration; unknown fields and trailing data
// are refused.
func readConfig(r io.Reader) (*Config, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, configErr("%v", err)
	}
	if dec.More() {
		return nil, configErr("trailing data after the JSON object")
	}
	return &c, nil
}

// route is a validated route.
type route struct {
	prefix string
	mode   popguard.Mode
	scopes []string
	nonce  bool
	bound  bool
	name   string
}

// settings is the validated configuration the service runs with.
type settings struct {
	listen      string
	publicURL   string
	issuers     []IssuerConfig
	routes      []route // longest prefix first
	gateways    []netip.Prefix
	gatewayList []string // as configured, for WithForwardedClientCert
	clientCert  ClientCertConfig
	replay      ReplayConfig
	nonce       bool
	msalCompat  bool
	headers     IdentityHeaders
	envoyPrefix string
	shutdown    time.Duration
}

// parseMode reads a route mode.
func parseMode(s string) (popguard.Mode, error) {
	base, report := strings.CutPrefix(s, "report:")
	var m popguard.Mode
	switch base {
	case "bearer":
		m = popguard.BearerOnly
	case "mixed":
		m = popguard.Mixed
	case "dpop":
		m = popguard.DPoPOnly
	case "pop":
		m = popguard.PoPOnly
	case "proof":
		m = popguard.ProofOnly
	default:
		return 0, fmt.Errorf("mode %q: want bearer, mixed, dpop, pop, proof or report:<one of them>", s)
	}
	if report {
		if base == "mixed" {
			return 0, fmt.Errorf("mode %q: report-only mode reports what a stricter mode would refuse; mixed accepts everything", s)
		}
		m = popguard.ReportOnly(m)
	}
	return m, nil
}

// modeName is the configuration spelling of a mode.
func modeName(m popguard.Mode) string {
	prefix := ""
	if m.IsReportOnly() {
		prefix, m = "report:", m.Target()
	}
	switch m {
	case popguard.BearerOnly:
		return prefix + "bearer"
	case popguard.Mixed:
		return prefix + "mixed"
	case popguard.DPoPOnly:
		return prefix + "dpop"
	case popguard.PoPOnly:
		return prefix + "pop"
	case popguard.ProofOnly:
		return prefix + "proof"
	}
	return prefix + m.String()
}

// parseCIDR reads a CIDR or a single address.
func parseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, configErr("trusted gateway %q: %v", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, configErr("trusted gateway %q: %v", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// validate checks c and returns the settings to run with.
func (c *Config) validate() (*settings, error) {
	s := &settings{listen: c.Listen, replay: c.Replay, nonce: c.Nonce, msalCompat: c.MSALBrowserCompat,
		headers: c.IdentityHeaders, envoyPrefix: c.EnvoyPrefix, shutdown: 10 * time.Second}
	if s.listen == "" {
		s.listen = "127.0.0.1:9180"
	}
	// The public URL: an origin, no path, no query.
	if c.PublicURL == "" {
		return nil, configErr("public_url (-public-url) is required: the origin clients address, which proofs are checked against")
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, configErr("public_url %q: want http(s)://host[:port]", c.PublicURL)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, configErr("public_url %q has a path: the gateway passes the whole path the client used, so give the origin only", c.PublicURL)
	}
	if _, err := uri.ParseAuthority(u.Host); err != nil {
		return nil, configErr("public_url %q: host: %v", c.PublicURL, err)
	}
	s.publicURL = u.Scheme + "://" + u.Host

	if len(c.Issuers) == 0 {
		return nil, configErr("an issuer is required (-issuer and -audience, or issuers in the file)")
	}
	seenIss := map[string]bool{}
	for _, ic := range c.Issuers {
		if ic.Issuer == "" || ic.Audience == "" {
			return nil, configErr("issuer %q: issuer and audience are both required", ic.Issuer)
		}
		if seenIss[ic.Issuer] {
			return nil, configErr("issuer %q is listed twice", ic.Issuer)
		}
		seenIss[ic.Issuer] = true
		if _, err := ic.profile(); err != nil {
			return nil, err
		}
	}
	s.issuers = c.Issuers

	if len(c.Routes) == 0 {
		return nil, configErr("no routes (-route PREFIX=MODE): every path would be refused")
	}
	seen := map[string]bool{}
	names := map[string]bool{}
	for _, rc := range c.Routes {
		p := rc.Prefix
		if p != "/" {
			p = strings.TrimRight(p, "/")
		}
		if p == "" || p[0] != '/' {
			return nil, configErr("route prefix %q must start with /", rc.Prefix)
		}
		if _, err := uri.CheckPath(p); err != nil || strings.Contains(p, "%") {
			return nil, configErr("route prefix %q: a path of plain characters without dot-segments or percent-encodings", rc.Prefix)
		}
		if seen[p] {
			return nil, configErr("route prefix %q is given twice", rc.Prefix)
		}
		seen[p] = true
		m, err := parseMode(rc.Mode)
		if err != nil {
			return nil, configErr("route %q: %v", rc.Prefix, err)
		}
		for _, sc := range rc.Scopes {
			if sc == "" || strings.ContainsAny(sc, " \"\\") {
				return nil, configErr("route %q: invalid scope %q", rc.Prefix, sc)
			}
		}
		r := route{prefix: p, mode: m, scopes: slices.Clone(rc.Scopes), name: rc.Name}
		if r.name == "" {
			r.name = p
		}
		if names[r.name] {
			return nil, configErr("route name %q is used twice", r.name)
		}
		names[r.name] = true
		r.nonce, r.bound = c.Nonce, rc.Bound
		if rc.Nonce != nil {
			r.nonce = *rc.Nonce
		}
		if !m.Accepts(popguard.DPoP) && !m.Accepts(popguard.PoP) {
			r.nonce = false // nonces are for proofs
		}
		switch target := m.Target(); {
		case !r.bound:
		case !target.Accepts(popguard.Bearer):
			return nil, configErr("route %q: bound has no effect: mode %s takes only tokens bound to a proof key", rc.Prefix, rc.Mode)
		case !target.Accepts(popguard.DPoP) && !target.Accepts(popguard.PoP) && c.ClientCert.Form == "":
			return nil, configErr("route %q: bound with mode %s and no client_cert refuses every request: no client certificate reaches popguard", rc.Prefix, rc.Mode)
		}
		s.routes = append(s.routes, r)
	}
	sort.SliceStable(s.routes, func(i, j int) bool { return len(s.routes[i].prefix) > len(s.routes[j].prefix) })

	if _, err := c.ClientCert.option(c.TrustedGateways); err != nil {
		return nil, err
	}
	s.clientCert, s.gatewayList = c.ClientCert, c.TrustedGateways
	if len(c.TrustedGateways) == 0 {
		return nil, configErr("no trusted gateway (-trusted-gateway CIDR): every request would be refused")
	}
	for _, g := range c.TrustedGateways {
		p, err := parseCIDR(g)
		if err != nil {
			return nil, err
		}
		s.gateways = append(s.gateways, p)
	}

	if s.replay.Store == "" {
		s.replay.Store = "memory"
	}
	switch {
	case s.replay.Store == "memory":
		if s.replay.Capacity < 0 {
			return nil, configErr("replay capacity %d", s.replay.Capacity)
		}
	case strings.HasPrefix(s.replay.Store, "redis://"), strings.HasPrefix(s.replay.Store, "rediss://"),
		strings.HasPrefix(s.replay.Store, "unix://"):
	default:
		return nil, configErr("replay store %q: want memory or a redis://, rediss:// or unix:// URL", redactURL(s.replay.Store))
	}

	h := &s.headers
	for _, f := range []struct {
		v   *string
		def string
	}{{&h.Subject, "X-Auth-Subject"}, {&h.ClientID, "X-Auth-Client-Id"}, {&h.Scheme, "X-Auth-Scheme"},
		{&h.Scopes, "X-Auth-Scopes"}, {&h.JKT, "X-Auth-Jkt"}} {
		if *f.v == "" {
			*f.v = f.def
		}
		if !validHeaderName(*f.v) {
			return nil, configErr("identity header name %q is not a header name", *f.v)
		}
	}
	if s.envoyPrefix == "" {
		s.envoyPrefix = "/envoy"
	}
	s.envoyPrefix = strings.TrimRight(s.envoyPrefix, "/")
	if s.envoyPrefix == "" || s.envoyPrefix[0] != '/' || s.envoyPrefix == "/check" || strings.HasPrefix(s.envoyPrefix, "/check/") ||
		s.envoyPrefix == "/healthz" || s.envoyPrefix == "/readyz" || s.envoyPrefix == "/metrics" {
		return nil, configErr("envoy_prefix %q: an absolute path other than the service's own", c.EnvoyPrefix)
	}
	if _, err := uri.CheckPath(s.envoyPrefix); err != nil {
		return nil, configErr("envoy_prefix %q: %v", c.EnvoyPrefix, err)
	}
	if c.ShutdownTimeout != "" {
		d, err := time.ParseDuration(c.ShutdownTimeout)
		if err != nil || d <= 0 {
			return nil, configErr("shutdown_timeout %q: a positive Go duration such as 10s", c.ShutdownTimeout)
		}
		s.shutdown = d
	}
	return s, nil
}

// validHeaderName reports whether n is an RFC 9110 token.
func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// describe writes the effective configuration, routes first, as
// check-config prints it.
func (s *settings) describe(w io.Writer) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "public URL        %s\n", s.publicURL)
	fmt.Fprintf(&b, "listen            %s\n", s.listen)
	for _, ic := range s.issuers {
		keys := ic.JWKS
		if keys == "" {
			keys = "discovered"
		}
		p, _ := ic.profile()
		fmt.Fprintf(&b, "issuer            %s (audience %s, keys %s, profile %s", ic.Issuer, ic.Audience, keys, p.Name)
		if len(ic.Tenants) > 0 {
			fmt.Fprintf(&b, ", tenants %s", strings.Join(ic.Tenants, " "))
		}
		if ic.AcceptJWTType {
			b.WriteString(", typ JWT accepted")
		}
		b.WriteString(")\n")
	}
	gws := make([]string, len(s.gateways))
	for i, g := range s.gateways {
		gws[i] = g.String()
	}
	fmt.Fprintf(&b, "trusted gateways  %s\n", strings.Join(gws, " "))
	fmt.Fprintf(&b, "replay            %s", redactURL(s.replay.Store))
	if s.replay.FailOpen {
		b.WriteString(" (FAIL-OPEN: proofs accepted unchecked while the store is down)")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "identity headers  %s %s %s %s %s\n", s.headers.Subject, s.headers.ClientID, s.headers.Scheme, s.headers.Scopes, s.headers.JKT)
	fmt.Fprintf(&b, "envoy prefix      %s\n\n", s.envoyPrefix)
	fmt.Fprintf(&b, "%-24s %-14s %-6s %-6s %-16s %s\n", "PREFIX", "MODE", "NONCE", "BOUND", "NAME", "SCOPES")
	yes := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	for _, r := range s.routes {
		scopes := strings.Join(r.scopes, " ")
		if scopes == "" {
			scopes = "-"
		}
		fmt.Fprintf(&b, "%-24s %-14s %-6s %-6s %-16s %s\n", r.prefix, modeName(r.mode), yes(r.nonce), yes(r.bound), r.name, scopes)
	}
	b.WriteString("(any other path is refused)\n")
	_, _ = w.Write(b.Bytes())
}

// loadConfigFile reads the configuration file at path.
func loadConfigFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, configErr("%v", err)
	}
	defer f.Close()
	return readConfig(f)
}

// redactURL hides the userinfo (a password) of a URL.
func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}
