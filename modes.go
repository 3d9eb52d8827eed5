package popguard

import (
	"strings"

	"github.com/popguard/popguard/internal/ascii"
)

// Scheme is an HTTP authentication scheme carrying an access token.
type Scheme uint8

// The schemes popguard understands.
const (
	// Bearer is RFC 6750: the token alone proves nothing about the caller.
	Bearer Scheme = 1 << iota
	// DPoP is RFC 9449: the token plus a DPoP proof signed by the bound key.
	DPoP
	// PoP is Microsoft's signed HTTP request (SHR), as sent by MSAL.
	PoP
	// MTLSPoP is the scheme name Microsoft's MSAL.NET writes before a
	// certificate-bound (RFC 8705) access token: "Authorization: mtls_pop
	// <token>" (MSAL.NET Constants.MtlsPoPAuthHeaderPrefix = "mtls_pop";
	// Microsoft.Identity.Web's token-binding guide calls the protocol scheme
	// "MTLS_POP", https://learn.microsoft.com/entra/msidweb/call-downstream-apis/token-binding).
	// It is the Bearer scheme under another name: a route accepts it wherever
	// it accepts Bearer, and the token must be bound to the client
	// certificate the request came with. A Mode never holds it.
	MTLSPoP
)

// String returns the scheme name as it appears in Authorization and
// WWW-Authenticate headers ("Bearer", "DPoP", "PoP", "mtls_pop").
func (s Scheme) String() string {
	switch s {
	case Bearer:
		return "Bearer"
	case DPoP:
		return "DPoP"
	case PoP:
		return "PoP"
	case MTLSPoP:
		return "mtls_pop"
	}
	return "unknown"
}

// ParseScheme matches name against the known schemes with ASCII
// case-insensitive comparison (RFC 9110 §11.1). It never folds Unicode, so a
// full-width "ＤPoP" is not DPoP. ok is false for an unknown scheme.
func ParseScheme(name string) (s Scheme, ok bool) {
	switch {
	case ascii.EqualFold(name, "Bearer"):
		return Bearer, true
	case ascii.EqualFold(name, "DPoP"):
		return DPoP, true
	case ascii.EqualFold(name, "PoP"):
		return PoP, true
	case ascii.EqualFold(name, "mtls_pop"):
		return MTLSPoP, true
	}
	return 0, false
}

// Mode says which schemes a route accepts. Modes are constants: choose one
// per route. The zero Mode accepts nothing.
//
// In every mode a token bound to a key (cnf.jkt, cnf.kid, cnf.jwk) is never
// accepted as a Bearer token, and the DPoP and PoP schemes require a token
// bound to the proof's key.
//
// Certificate-bound tokens (RFC 8705, cnf.x5t#S256) travel with the Bearer
// scheme (or Microsoft's MTLSPoP name for it), so a mode that accepts Bearer
// accepts them too, but only with the client certificate they are bound to:
// never without it, on any route. Such a token is strictly stronger than an
// unbound Bearer token, so a route loses nothing by taking it. BearerOnly and
// Mixed therefore accept unbound and certificate-bound tokens; DPoPOnly,
// PoPOnly and ProofOnly accept neither.
type Mode uint16

// The low byte of a Mode holds the schemes it lets through; the high byte,
// for a report-only mode, the schemes of the stricter mode it reports
// against, with reportFlag set.

// The predefined modes.
const (
	// BearerOnly accepts tokens sent with the Bearer scheme: unbound ones, and
	// certificate-bound ones with their certificate.
	BearerOnly = Mode(Bearer)
	// Mixed accepts Bearer (unbound or certificate-bound), DPoP and PoP: for
	// gradual migration.
	Mixed = Mode(Bearer | DPoP | PoP)
	// DPoPOnly accepts only DPoP-bound tokens with a DPoP proof.
	DPoPOnly = Mode(DPoP)
	// PoPOnly accepts only Microsoft PoP signed HTTP requests.
	PoPOnly = Mode(PoP)
	// ProofOnly accepts DPoP or PoP, never Bearer.
	ProofOnly = Mode(DPoP | PoP)
)

// Accepting returns a mode accepting exactly the given schemes. MTLSPoP
// counts as Bearer.
func Accepting(schemes ...Scheme) Mode {
	var m Mode
	for _, s := range schemes {
		if s == MTLSPoP {
			s = Bearer
		}
		m |= Mode(s & (Bearer | DPoP | PoP))
	}
	return m
}

// ReportOnly returns a migration mode for strict: requests are checked as in
// Mixed and let through, but every request that strict would reject is
// reported (logged and counted) so a team can see who still sends Bearer
// tokens before it switches the route to strict. A report-only strict
// stands for its own target.
func ReportOnly(strict Mode) Mode {
	return Mixed | Mode(strict.Target().accept()|reportFlag)<<8
}

// reportFlag marks a report-only mode even when its target accepts nothing.
const reportFlag Scheme = 1 << 7

func (m Mode) accept() Scheme { return Scheme(m) }

// Accepts reports whether the mode lets requests with scheme s through.
// MTLSPoP is accepted wherever Bearer is.
func (m Mode) Accepts(s Scheme) bool {
	if s == MTLSPoP {
		s = Bearer
	}
	return s != 0 && m.accept()&s == s
}

// IsReportOnly reports whether m is a report-only migration mode.
func (m Mode) IsReportOnly() bool { return Scheme(m>>8)&reportFlag != 0 }

// Target returns the mode a report-only mode reports against, and m itself
// for an enforcing mode.
func (m Mode) Target() Mode {
	if !m.IsReportOnly() {
		return m
	}
	return Mode(Scheme(m>>8) &^ reportFlag)
}

// Schemes lists the accepted schemes in the order Bearer, DPoP, PoP.
func (m Mode) Schemes() []Scheme {
	var out []Scheme
	for _, s := range []Scheme{Bearer, DPoP, PoP} {
		if m.Accepts(s) {
			out = append(out, s)
		}
	}
	return out
}

// String describes the mode, e.g. "Bearer|DPoP" or "report-only(DPoP)".
func (m Mode) String() string {
	if m.IsReportOnly() {
		return "report-only(" + m.Target().String() + ")"
	}
	names := make([]string, 0, 3)
	for _, s := range m.Schemes() {
		names = append(names, s.String())
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}
