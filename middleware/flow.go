package middleware

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/validate"
)

// Outcome is what happened to a request.
type Outcome string

// Outcomes reported to Metrics.
const (
	Accepted Outcome = "accepted"
	Rejected Outcome = "rejected"
	// Reported: accepted on a report-only route although the stricter mode
	// would have rejected it.
	Reported Outcome = "reported"
)

// Event describes one authenticated or rejected request.
type Event struct {
	Route   string
	Scheme  popguard.Scheme // 0 when no credentials were found
	Outcome Outcome
	Reason  popguard.Reason // empty when accepted

	// Context is the request's context (its trace context and values). A
	// hook must not keep it after Observe returns.
	Context context.Context
	// Start is when the Guard began checking the request; Duration is how
	// long the check took, the replay store included.
	Start    time.Time
	Duration time.Duration
	// ProofIssuedAt is the iat of the DPoP proof, or the ts of the PoP signed
	// request, once its signature and binding verified (also when the request
	// is rejected later, as a replay for example); zero otherwise.
	// ProofIssuedAt.Sub(Start) is how far the client's clock is ahead of the
	// server's (negative: behind, or a proof that travelled).
	ProofIssuedAt time.Time
	// ReplayDuration is how long the replay store took to answer; zero when
	// it was not consulted.
	ReplayDuration time.Duration
	// CertBound is set when the request was let through with a
	// certificate-bound token (RFC 8705) and its certificate.
	CertBound bool
}

// SchemeLabel names the event's scheme for a metrics label, from a fixed
// set: "none" (no credentials), "Bearer", "Bearer+mTLS" (a
// certificate-bound token with its certificate), "DPoP", "PoP",
// "mtls_pop", or "unknown".
func (e Event) SchemeLabel() string {
	switch {
	case e.Scheme == 0:
		return "none"
	case e.Scheme == popguard.Bearer && e.CertBound:
		return "Bearer+mTLS"
	}
	return e.Scheme.String()
}

// Metrics receives one Event per request. Implementations must be fast and
// safe for concurrent use (for example, increment Prometheus counters).
type Metrics interface {
	Observe(Event)
}

// proofOf is what a verified proof hands back to authenticate.
type proofOf struct {
	key string    // replay identity, owned by the result's KeyThumbprint
	iat time.Time // DPoP iat or SHR ts
}

// authenticate checks one request and, when a Metrics hook is set, reports
// it as one Event.
func (g *Guard) authenticate(p *policy, r *http.Request) (*popguard.Result, http.Header, *Rejection) {
	if g.metrics == nil {
		return g.check(p, r, nil)
	}
	ev := Event{Route: p.name, Context: r.Context(), Start: time.Now()}
	res, hdr, rej := g.check(p, r, &ev)
	ev.Duration = time.Since(ev.Start)
	if rej != nil {
		ev.Scheme, ev.Outcome, ev.Reason = rej.used, Rejected, rej.Err.Reason
	} else {
		ev.Scheme, ev.Outcome, ev.CertBound = res.Scheme, Accepted, res.CertificateThumbprint != ""
		if p.reportedOnly(res.Scheme) {
			ev.Outcome = Reported
		}
	}
	g.metrics.Observe(ev)
	return res, hdr, rej
}

// reportedOnly reports whether a request with scheme s passes only because
// the route is report-only.
func (p *policy) reportedOnly(s popguard.Scheme) bool {
	return p.mode.IsReportOnly() && !p.mode.Target().Accepts(s)
}

// check runs the whole check for one request. On success it returns the
// result and the headers to add to the response. ev, when not nil, receives
// the proof's iat and the replay store's latency.
func (g *Guard) check(p *policy, r *http.Request, ev *Event) (*popguard.Result, http.Header, *Rejection) {
	if err := checkPath(r); err != nil {
		return nil, nil, g.fail(p, r, 0, err)
	}
	creds, err := g.extract(r)
	if err != nil {
		return nil, nil, g.fail(p, r, 0, err)
	}
	if creds == nil {
		return nil, nil, g.fail(p, r, 0, popguard.NewError(popguard.CodeNone, popguard.ReasonNoCredentials, "", nil))
	}
	s := creds.scheme
	if !p.accepts(s) {
		// Counted under the scheme the caller used: that is the migration
		// view (who still sends Bearer to a DPoP-only route). The
		// challenges carry no error: the route does not speak that scheme.
		rej := g.reject(p, 0, popguard.NewError(popguard.CodeNone, popguard.ReasonRequestSchemeNotAllowed, "", nil))
		rej.used = s
		g.logReject(p, r, s, rej)
		return nil, nil, rej
	}
	var (
		res   *popguard.Result
		hdr   http.Header
		proof proofOf
	)
	switch s {
	case popguard.Bearer, popguard.MTLSPoP:
		res, err = g.bearer(r, s, creds.token)
	case popguard.DPoP:
		res, hdr, proof, err = g.dpop(p, r, creds.token)
	case popguard.PoP:
		res, hdr, proof, err = g.pop(p, r, creds.token)
	}
	if ev != nil {
		ev.ProofIssuedAt = proof.iat
	}
	if err != nil {
		return nil, nil, g.fail(p, r, s, err)
	}
	// DPoP and PoP results are bound to their proof's key; a Bearer or
	// mtls_pop result is bound when it carries its certificate.
	if p.boundOnly && res.KeyThumbprint == "" && res.CertificateThumbprint == "" && !p.reportedOnly(s) {
		return nil, nil, g.fail(p, r, s, popguard.NewError(popguard.CodeInvalidToken, popguard.ReasonTokenNotBound,
			"This resource accepts only access tokens bound to a key or a client certificate", nil))
	}
	var missing []string
	for _, want := range p.scopes {
		if !slices.Contains(res.Scopes, want) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		// The challenges name the scopes the token lacks, as MCP clients
		// expect, so that a client asks for exactly those.
		rej := g.rejectScope(p, s, popguard.NewError(popguard.CodeInsufficientScope, popguard.ReasonInsufficientScope,
			"The access token does not grant the required scope", nil), missing)
		g.logReject(p, r, s, rej)
		return nil, nil, rej
	}
	for _, want := range p.roles {
		if !slices.Contains(res.Roles, want) {
			return nil, nil, g.fail(p, r, s, popguard.NewError(popguard.CodeInsufficientScope, popguard.ReasonInsufficientRole,
				"The access token does not grant the required role: "+strings.Join(p.roles, " "), nil))
		}
	}
	// Replay last, once every other check passed: a rejected request never
	// uses up a proof.
	if proof.key != "" {
		ttl := p.dpopTTL
		if s == popguard.PoP {
			ttl = p.popTTL
		}
		// ttl is the longest the route may accept the proof, a second
		// included (replayTTL).
		timed := ev != nil && g.replay != nil
		var began time.Time
		if timed {
			began = time.Now()
		}
		err := g.remember(r, s, res.KeyThumbprint, proof.key, ttl)
		if timed {
			ev.ReplayDuration = max(time.Since(began), 1) // consulted: never zero
		}
		if err != nil {
			return nil, nil, g.fail(p, r, s, err)
		}
	}
	if p.reportedOnly(s) {
		g.log.LogAttrs(r.Context(), slog.LevelWarn, "popguard: request allowed by report-only mode",
			slog.String("route", p.name), slog.String("scheme", Event{Scheme: s, CertBound: res.CertificateThumbprint != ""}.SchemeLabel()),
			slog.String("would_require", p.mode.Target().String()),
			slog.String("client_id", res.ClientID), slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
	return res, hdr, nil
}

func (g *Guard) fail(p *policy, r *http.Request, used popguard.Scheme, err error) *Rejection {
	challenge := used
	if used == popguard.MTLSPoP {
		challenge = popguard.Bearer // the error goes on the Bearer challenge
	}
	rej := g.reject(p, challenge, err)
	rej.used = used // counted under the scheme the caller used
	g.logReject(p, r, used, rej)
	return rej
}

// logReject logs a rejection (authenticate counts it).
func (g *Guard) logReject(p *policy, r *http.Request, used popguard.Scheme, rej *Rejection) {
	level := slog.LevelInfo
	if rej.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("route", p.name), slog.String("reason", string(rej.Err.Reason)),
		slog.String("code", string(rej.Err.Code)), slog.Int("status", rej.Status),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("remote", r.RemoteAddr),
	}
	if used != 0 {
		attrs = append(attrs, slog.String("scheme", used.String()))
	}
	if rej.Err.Err != nil {
		attrs = append(attrs, slog.String("cause", rej.Err.Err.Error()))
	}
	g.log.LogAttrs(r.Context(), level, "popguard: request rejected", attrs...)
}

// resultOf copies what a handler may touch: tokens come from a shared cache,
// so a handler writing to its Result must not change what later requests
// see. Nested claim values (objects, arrays) are still shared: read-only.
func resultOf(s popguard.Scheme, t *validate.Token, jkt string) *popguard.Result {
	// One backing array for the three lists, each capped so that an
	// append by the handler reallocates rather than overwriting the next.
	lists := make([]string, 0, len(t.Audience)+len(t.Scopes)+len(t.Roles))
	lists = append(append(append(lists, t.Audience...), t.Scopes...), t.Roles...)
	a, sc := len(t.Audience), len(t.Audience)+len(t.Scopes)
	return &popguard.Result{
		Scheme: s, Issuer: t.Issuer, Subject: t.Subject, ClientID: t.ClientID,
		Audience: listOf(t.Audience, lists[:a:a]), Scopes: listOf(t.Scopes, lists[a:sc:sc]), Roles: listOf(t.Roles, lists[sc:]),
		Expiry: t.Expiry, TokenID: t.ID, KeyThumbprint: jkt, Claims: maps.Clone(t.Claims),
	}
}

// listOf returns cp, the copy of list, keeping a nil list nil (as
// slices.Clone does).
func listOf(list, cp []string) []string {
	if list == nil {
		return nil
	}
	return cp
}

// bearer checks an RFC 6750 request. A token bound to a key is refused
// (RFC 9449 §7.2): a stolen DPoP or PoP token must not work as a Bearer one.
// A certificate-bound token (RFC 8705 §3) is accepted only with the client
// certificate it is bound to; with the mtls_pop scheme (s is MTLSPoP) the
// token must be certificate-bound.
func (g *Guard) bearer(r *http.Request, s popguard.Scheme, token string) (*popguard.Result, error) {
	t, err := g.tokens.VerifyToken(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if t.Cnf.X5tS256 != "" || s == popguard.MTLSPoP {
		if t.Cnf.X5tS256 == "" && !t.Cnf.Bound() {
			return nil, popguard.NewError(popguard.CodeInvalidToken, popguard.ReasonTokenNotBound,
				"The mtls_pop scheme needs a certificate-bound access token", nil)
		}
		thumb := ""
		if t.Cnf.X5tS256 != "" {
			if thumb, err = g.clientCert(r); err != nil {
				return nil, err
			}
		}
		if err := validate.CheckCertificateBinding(t, thumb); err != nil {
			return nil, err
		}
		res := resultOf(s, t, "")
		res.CertificateThumbprint = thumb
		return res, nil
	}
	if t.Cnf.Bound() {
		return nil, popguard.NewError(popguard.CodeInvalidToken, popguard.ReasonTokenBoundUsedAsBearer,
			"The access token is bound to a key and cannot be used as a Bearer token", nil)
	}
	return resultOf(popguard.Bearer, t, ""), nil
}

// dpop checks an RFC 9449 §7 request: the proof's cheap checks and nonce,
// the token when it can be checked locally, the proof signature, and the
// binding (validate.ProofVerifier.VerifyRequest). It returns the proof's
// replay identity and iat for the caller to record last.
func (g *Guard) dpop(p *policy, r *http.Request, token string) (*popguard.Result, http.Header, proofOf, error) {
	raw, err := g.dpopHeader(r)
	if err != nil {
		return nil, nil, proofOf{}, err
	}
	t, err := g.targetOf(r)
	if err != nil {
		return nil, nil, proofOf{}, err
	}
	req := validate.ProofRequest{Method: r.Method, Target: t.uri(), AccessToken: token, Freshness: p.freshness}
	if p.nonces != nil {
		req.Nonces = p.nonces
	}
	proof, tok, err := g.proofs.VerifyRequest(r.Context(), g.tokens, raw, req)
	if err != nil {
		return nil, nil, proofOf{}, err
	}
	var hdr http.Header
	if proof.NextNonce != "" {
		hdr = nonceHeader("DPoP-Nonce", proof.NextNonce)
	}
	res := resultOf(popguard.DPoP, tok, proof.Thumbprint)
	res.ClientClaims = proof.ClientClaims
	return res, hdr, proofOf{proof.ReplayKey(), proof.IssuedAt}, nil
}

// remember inserts a proof identity into the replay store, after every
// other check passed, accounted to the proof key (owner) when the store
// keeps per-key quotas.
func (g *Guard) remember(r *http.Request, s popguard.Scheme, owner, key string, ttl time.Duration) error {
	if g.replay == nil {
		return nil
	}
	var err error
	if owned, ok := g.replay.(replay.OwnedStore); ok {
		err = owned.InsertOwned(r.Context(), owner, key, ttl)
	} else {
		err = g.replay.InsertIfAbsent(r.Context(), key, ttl)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replay.ErrReplayed):
		code := popguard.CodeInvalidDPoPProof
		if s == popguard.PoP {
			code = popguard.CodeInvalidToken // PoP has no proof error code (RFC 6750 codes)
		}
		return popguard.NewError(code, popguard.ReasonReplayDetected, "The proof has already been used", nil)
	case errors.Is(err, replay.ErrQuota):
		return popguard.NewError(popguard.CodeTemporarilyUnavailable, popguard.ReasonReplayKeyQuota, "Too many proofs from this key; retry shortly", err)
	case errors.Is(err, replay.ErrFull):
		return popguard.NewError(popguard.CodeTemporarilyUnavailable, popguard.ReasonReplayStoreFull, "The server is busy; retry shortly", err)
	}
	if g.failOpen {
		g.log.LogAttrs(r.Context(), slog.LevelError, "popguard: replay check skipped (fail-open)",
			slog.String("reason", string(popguard.ReasonReplayStoreUnavailable)), slog.String("cause", err.Error()))
		return nil
	}
	return popguard.NewError(popguard.CodeTemporarilyUnavailable, popguard.ReasonReplayStoreUnavailable, "The server cannot check proofs right now; retry shortly", err)
}

// pop checks a Microsoft PoP signed HTTP request. Server nonces travel as
// WWW-Authenticate: PoP nonce="..." on 401 and Authentication-Info:
// nextnonce="..." on success, the form MSAL parses.
func (g *Guard) pop(p *policy, r *http.Request, shr string) (*popguard.Result, http.Header, proofOf, error) {
	t, err := g.targetOf(r)
	if err != nil {
		return nil, nil, proofOf{}, err
	}
	req := validate.SHRRequest{
		Method: r.Method, Scheme: t.scheme, Host: t.host, Path: t.path, RawQuery: t.query,
		Header: r.Header, Body: g.bodyOf(r), Freshness: p.freshness,
	}
	if p.nonces != nil {
		req.Nonces = p.nonces
	}
	v, err := g.shr.Verify(r.Context(), shr, req)
	if err != nil {
		return nil, nil, proofOf{}, err
	}
	var hdr http.Header
	if v.NextNonce != "" {
		hdr = nonceHeader("Authentication-Info", `nextnonce="`+v.NextNonce+`"`)
	}
	res := resultOf(popguard.PoP, v.Token, v.Thumbprint)
	res.ClientClaims = v.ClientClaims
	return res, hdr, proofOf{v.ReplayKey(), v.Timestamp}, nil
}

// nonceHeader is the header of an accepted request that hands the client
// a fresh nonce in field name: not cached, and readable across origins.
func nonceHeader(name, value string) http.Header {
	hdr := http.Header{}
	hdr.Set(name, value)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Access-Control-Expose-Headers", exposeHeaders)
	return hdr
}

// bodyOf returns a reader of the request body for the SHR b claim: read at
// most once, capped, and put back for the handler.
func (g *Guard) bodyOf(r *http.Request) func() ([]byte, error) {
	return func() ([]byte, error) {
		if r.Body == nil || r.Body == http.NoBody {
			return nil, nil
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, g.maxBody+1))
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(b))
		if err != nil {
			return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonSHRB, "The request body could not be read", err)
		}
		if int64(len(b)) > g.maxBody {
			return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonSHRB, "The request body is too large to verify", nil)
		}
		return b, nil
	}
}
