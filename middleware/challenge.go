package middleware

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/popguard/popguard"
)

// Rejection is a request the guard refused, with everything needed to
// answer it. ErrorHandler receives it; WriteRejection writes the default
// answer.
type Rejection struct {
	// Err is the reason, with its RFC code and safe description.
	Err *popguard.Error
	// Status is the HTTP status: 400, 401, 403, 429, 431 or 503.
	Status int
	// Header holds WWW-Authenticate challenges and, where relevant,
	// DPoP-Nonce, Cache-Control, Retry-After and
	// Access-Control-Expose-Headers.
	Header http.Header

	used popguard.Scheme // the scheme the request used, for Metrics
}

// Error returns the rejection's error: "code (reason): description".
func (rej *Rejection) Error() string { return rej.Err.Error() }

// Unwrap returns the *popguard.Error, so errors.Is and errors.As match a
// Rejection like the error it carries.
func (rej *Rejection) Unwrap() error { return rej.Err }

// exposeHeaders is the Access-Control-Expose-Headers value of every answer
// that may carry a challenge or a nonce, so that a browser client can read
// them across origins.
const exposeHeaders = "WWW-Authenticate, DPoP-Nonce, Authentication-Info"

// ErrorHandler writes a rejection. Use it to render errors in your own
// format; keep rej.Header and rej.Status.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, rej *Rejection)

// WriteRejection is the default ErrorHandler: it copies rej.Header, writes
// rej.Status and, for errors with a code, a small JSON body
// {"error": ..., "error_description": ...}.
func WriteRejection(w http.ResponseWriter, _ *http.Request, rej *Rejection) {
	h := w.Header()
	for k, v := range rej.Header {
		h[k] = append(h[k], v...)
	}
	if rej.Err == nil || rej.Err.Code == popguard.CodeNone {
		w.WriteHeader(rej.Status)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rej.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{string(rej.Err.Code), sanitize(rej.Err.Description)})
}

// statusOf maps an error to its HTTP status.
func statusOf(e *popguard.Error) int {
	switch {
	case e.Reason == popguard.ReasonRequestHeaderTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge
	case e.Code == popguard.CodeInvalidRequest:
		return http.StatusBadRequest
	case e.Code == popguard.CodeInsufficientScope:
		return http.StatusForbidden
	case e.Reason == popguard.ReasonReplayKeyQuota:
		return http.StatusTooManyRequests
	case e.Code == popguard.CodeTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// sanitize keeps only the characters RFC 6750 §3 allows in error and
// error_description (%x20-21 / %x23-5B / %x5D-7E).
func sanitize(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b.WriteByte('?')
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// challengeFor builds one challenge. err is attached when non-nil; scope,
// when not empty, is the scope attribute (RFC 6750 §3): what the route
// needs, or on insufficient_scope what the token lacks. With resource
// metadata, resource_metadata (RFC 9728 §5.1) points to it.
func (g *Guard) challengeFor(s popguard.Scheme, e *popguard.Error, scope []string, popNonce string) string {
	var b strings.Builder
	b.WriteString(s.String())
	sep := " "
	param := func(k, v string) {
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(v)
		b.WriteByte('"')
		sep = ", "
	}
	if s == popguard.PoP && popNonce != "" {
		// MSAL's parser is naive: nonce must come first.
		param("nonce", popNonce)
	}
	if s != popguard.DPoP {
		param("realm", g.realm)
	}
	if e != nil && e.Code != popguard.CodeNone && e.Code != popguard.CodeTemporarilyUnavailable {
		param("error", string(e.Code))
		if e.Description != "" {
			param("error_description", sanitize(e.Description))
		}
	}
	if len(scope) > 0 {
		param("scope", sanitize(strings.Join(scope, " ")))
	}
	if g.meta != nil {
		param("resource_metadata", sanitize(g.meta.url))
	}
	if s == popguard.DPoP {
		param("algs", g.algs)
	}
	return b.String()
}

// reject builds the rejection for err on a route. used is the scheme the
// request used (0 when none could be established). The challenges carry
// the scopes the route needs, but none for a missing role: the token has
// the scopes, and asking for them again would not help.
func (g *Guard) reject(p *policy, used popguard.Scheme, err error) *Rejection {
	e := popguard.AsError(err)
	scope := p.scopes
	if e.Reason == popguard.ReasonInsufficientRole {
		scope = nil
	}
	return g.rejectScope(p, used, e, scope)
}

// rejectScope is reject with the scope attribute of the challenges: on
// insufficient_scope, the scopes the token lacks.
func (g *Guard) rejectScope(p *policy, used popguard.Scheme, e *popguard.Error, scope []string) *Rejection {
	rej := &Rejection{Err: e, Status: statusOf(e), Header: http.Header{}, used: used}
	h := rej.Header
	// Error information goes on the challenge of the scheme used (RFC 9449
	// §7.2); when it cannot be established (several Authorization lines),
	// on every challenge.
	ambiguous := used == 0 && e.Code == popguard.CodeInvalidRequest
	var dpopNonce, popNonce string
	if p.nonces != nil {
		n := g.nonces.Issue()
		if p.accepts(popguard.DPoP) && (used == popguard.DPoP || used == 0) {
			dpopNonce = n
		}
		if p.accepts(popguard.PoP) {
			popNonce = n
		}
	}
	order := slices.Clone(p.schemes) // never reorder the route's own list
	if used != 0 {
		// The challenge of the scheme used first.
		for i, s := range order {
			if s == used {
				copy(order[1:i+1], order[:i])
				order[0] = used
			}
		}
	}
	for _, s := range order {
		var ce *popguard.Error
		if s == used || ambiguous {
			ce = e
		}
		h.Add("WWW-Authenticate", g.challengeFor(s, ce, scope, popNonce))
	}
	if len(order) == 0 {
		h.Add("WWW-Authenticate", g.challengeFor(popguard.Bearer, nil, scope, ""))
	}
	if dpopNonce != "" || e.Code == popguard.CodeUseDPoPNonce {
		if dpopNonce == "" && g.nonces != nil {
			dpopNonce = g.nonces.Issue()
		}
		if dpopNonce != "" {
			h.Set("DPoP-Nonce", dpopNonce)
		}
	}
	if dpopNonce != "" || popNonce != "" {
		h.Set("Cache-Control", "no-store")
	}
	if rej.Status == http.StatusServiceUnavailable || rej.Status == http.StatusTooManyRequests {
		h.Set("Retry-After", strconv.Itoa(g.retryAfter))
	}
	h.Set("Access-Control-Expose-Headers", exposeHeaders)
	return rej
}
