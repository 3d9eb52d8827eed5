package main

// inspect: decode a DPoP proof, a PoP signed HTTP request or an access
// token, and explain check by check why a popguard server would accept or
// refuse it.
//
// The checks are the verifiers' own (validate.ProofVerifier, SHRVerifier,
// JWTVerifier, with their default settings and a clock at -at): a traced
// copy of each (internal/trace) reports every check it makes, with the
// value it looked at and its verdict, and inspect prints those reports.
// Inputs that were not given (-method, -url, -jwks...) are declared
// missing, so the checks that need them are reported as not made rather
// than guessed. inspect_proof.go, inspect_shr.go and inspect_token.go hold
// one kind each; report.go prints the result.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/validate"
)

const inspectHelp = `
Usage: popctl inspect [-method M -url U] [-token AT] [-at TIME] [-jwks FILE -iss ISS -aud AUD]
                      [-header 'Name: value'] [-body FILE] [--json] PROOF|SHR|TOKEN|FILE|-

Decodes a DPoP proof (typ dpop+jwt), a Microsoft PoP signed HTTP request
(typ pop, or an at claim) or an access token (anything else), prints its
header and payload, and runs popguard's verifier on it for the given request
at the given time (validate.ProofVerifier, SHRVerifier or JWTVerifier, with
their default settings), printing each check the verifier makes, the value
it looked at, and its verdict. The input is the compact JWS itself, a file
holding it, or "-" for stdin; a leading "Authorization: DPoP ", "DPoP: ",
"PoP " or "Bearer " is ignored.

Checks that need information you did not give (-method, -url, -token, -jwks,
-iss, -aud, -body, -header) are shown as not checked (–), never as passed.
Checks that only the server can make (replay of a proof or SHR, its nonces;
fetching the issuer's keys) are shown as "not checked offline": a server
may still refuse what inspect finds OK, for those reasons.

  DPoP proof: structure, typ, alg, jwk, claims, jti, htm vs -method, target
    and htu vs -url, iat vs the 60s/10s window, ath vs -token, the key, alg
    fits the key, signature. With a JWT -token, as a server does
    (VerifyRequest): the token (token.*) and its binding (cnf.jkt = the
    proof key's thumbprint).
  Access token: structure, typ, header, claims, iss vs -iss, aud vs -aud,
    exp/nbf/iat vs -at (30s leeway), cnf, alg, key set and signature with
    -jwks.
  SHR: structure, typ, alg, header, claims, ts vs the 5m/30s window, m, u,
    target, p vs the request, the at token (at.*), its binding to the PoP
    key, alg fits the key, kid, signature, q, h, b vs the request.

Exit status: 0 every check passed, 1 a check failed, 2 usage or input error.

Examples:
  popctl inspect -method GET -url https://api.example.com/x -token "$AT" "$PROOF"
  popctl inspect -at 1562262618 -method GET -url https://resource.example.org/protectedresource \
      -token 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU' proof.jwt
  popctl inspect -jwks jwks.json -iss https://issuer.test -aud https://api.test "$AT"
  popctl inspect --json -method POST -url https://api.example.com/x - < shr.txt | jq .checks
`

// check is one line of an inspection: one check of a verifier.
type check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	// Offline: a check only the server can make (replay, nonce...).
	Offline bool   `json:"offline,omitempty"`
	Detail  string `json:"detail"`
	// Reason is the popguard reason of a failed check.
	Reason string `json:"reason,omitempty"`
}

// part is a decoded JWS: header and payload JSON.
type part struct {
	Header  json.RawMessage `json:"header"`
	Payload json.RawMessage `json:"payload"`
}

// report is the result of an inspection (the --json document).
type report struct {
	Kind    string          `json:"kind"`
	Header  json.RawMessage `json:"header"`
	Payload json.RawMessage `json:"payload"`
	// AccessToken is the decoded at claim of an SHR.
	AccessToken *part   `json:"access_token,omitempty"`
	At          int64   `json:"at"`
	Checks      []check `json:"checks"`
	OK          bool    `json:"ok"`
	// Reason is the verifier's reason for refusing the input.
	Reason string `json:"reason,omitempty"`
}

// Kinds.
const (
	kindProof   = "dpop-proof"
	kindSHR     = "pop-shr"
	kindToken   = "access-token"
	kindUnknown = "unknown"
)

// offlineChecks are the checks only a server can make, and why.
var offlineChecks = map[string]string{
	"replay":       "a server refuses what it has already accepted once (replay_detected)",
	"nonce":        "only the server knows whether it requires a nonce and which it accepts (nonce_missing, nonce_invalid)",
	"keyset-fetch": "a server refuses tokens while it cannot fetch the issuer's keys (token_keyset_unavailable); -jwks stands in for them",
	"token":        "an opaque access token is checked by introspection at its issuer",
	"binding":      "an opaque access token's binding is known only to introspection",
}

type inspector struct {
	method, url, token string
	iss, aud           string
	now                time.Time
	keys               *validate.StaticKeySet
	profile            validate.Profile
	browserCompat      bool
	headers            http.Header
	body               []byte
	hasBody            bool

	checks []check
	reason popguard.Reason
}

func (in *inspector) clock() time.Time { return in.now }

// tracer records the events of a verifier as checks; prefix names the
// checks of an inner verifier ("at." for the access token of an SHR).
func (in *inspector) tracer(prefix string) trace.Tracer {
	return func(ev trace.Event) {
		c := check{Name: prefix + ev.Check, OK: ev.Err == nil, Skipped: ev.Skipped, Detail: ev.Value}
		if ev.Err != nil {
			pe := popguard.AsError(ev.Err)
			c.Reason = string(pe.Reason)
			c.Detail = joinDetail(ev.Value, explain(pe))
		} else if why, ok := offlineChecks[ev.Check]; ok && ev.Skipped {
			c.Offline = true
			c.Detail = joinDetail(ev.Value, "not checked offline: "+why)
		}
		in.checks = append(in.checks, c)
	}
}

func joinDetail(value, more string) string {
	if value == "" {
		return more
	}
	return value + ": " + more
}

// explain is a rejection as a server logs it: description and cause.
func explain(pe *popguard.Error) string {
	if pe.Err != nil {
		return pe.Description + " (" + pe.Err.Error() + ")"
	}
	return pe.Description
}

func (in *inspector) add(c check) { in.checks = append(in.checks, c) }

func (in *inspector) pass(name, detail string) { in.add(check{Name: name, OK: true, Detail: detail}) }

// notMade counts the checks not made for want of an input.
func (in *inspector) notMade() int {
	n := 0
	for _, c := range in.checks {
		if c.Skipped && !c.Offline {
			n++
		}
	}
	return n
}

func (in *inspector) find(name string) *check {
	for i := range in.checks {
		if in.checks[i].Name == name {
			return &in.checks[i]
		}
	}
	return nil
}

// verdict adds the verifier's verdict as the check "verifier". A rejection
// was reported by the check that made it; should a verifier ever refuse
// without one, this line still fails. For an accepted input, offline names
// checks only a server makes that the verifier does not report itself
// (such as "at.keyset-fetch"): each gets a "not checked offline" line, so
// that the report never ends in a bare OK for what a server may refuse.
func (in *inspector) verdict(lib string, err error, offline ...string) {
	if err == nil {
		for _, name := range offline {
			why := offlineChecks[name[strings.LastIndexByte(name, '.')+1:]]
			in.add(check{Name: name, OK: true, Skipped: true, Offline: true, Detail: "not checked offline: " + why})
		}
		detail := lib + " accepts it"
		if n := in.notMade(); n > 0 {
			detail += fmt.Sprintf(", with %d check(s) not made (–)", n)
		}
		in.pass("verifier", detail)
		return
	}
	pe := popguard.AsError(err)
	in.reason = pe.Reason
	in.add(check{Name: "verifier", Detail: lib + " rejects it: " + string(pe.Reason) + ": " + explain(pe)})
}

const inspectMaxInput = 1 << 20

func runInspect(e *env, args []string) int {
	fs := newFlags("inspect", inspectHelp)
	in := &inspector{}
	fs.StringVar(&in.method, "method", "", "request method (compared with htm / m)")
	fs.StringVar(&in.url, "url", "", "request URL (compared with htu / u, p, q)")
	fs.StringVar(&in.token, "token", "", "access token sent with the proof (checks ath; a JWT is verified and its cnf.jkt compared)")
	at := fs.String("at", "", "check at this time: unix seconds or RFC 3339 (default now)")
	jwksPath := fs.String("jwks", "", "issuer JWK Set file: check token (and SHR at) signatures")
	fs.StringVar(&in.iss, "iss", "", "expected token issuer (exact)")
	fs.StringVar(&in.aud, "aud", "", "this API's audience")
	profile := fs.String("profile", "rfc9068", "the issuer's token profile: rfc9068, entra, keycloak, okta or auth0")
	fs.BoolVar(&in.browserCompat, "msal-browser-compat", false, "SHR: accept msal-browser's lower-cased u/p/q (validate.MSALBrowserCompat)")
	var headers stringList
	fs.Var(&headers, "header", `SHR: a request header "Name: value" for the h claim (repeatable)`)
	bodyPath := fs.String("body", "", "SHR: request body file for the b claim")
	as := fs.String("as", "", "force the kind: proof, shr or token (default: detected)")
	asJSON := fs.Bool("json", false, "print a JSON report instead of text")
	pos, code, done := parseFlags(e, fs, args)
	if !done {
		var ok bool
		if in.profile, ok = validate.ProfileByName(*profile); !ok {
			fmt.Fprintf(e.stderr, "popctl inspect: unknown -profile %q (rfc9068, entra, keycloak, okta, auth0)\n", *profile)
			return exitUsage
		}
	}
	if done {
		return code
	}
	if len(pos) != 1 {
		return e.errorf(exitUsage, "inspect", "need exactly one PROOF, SHR, TOKEN, FILE or -")
	}
	in.now = time.Now()
	if *at != "" {
		t, err := parseTime(*at)
		if err != nil {
			return e.errorf(exitUsage, "inspect", "-at: %v", err)
		}
		in.now = t
	}
	if in.url != "" {
		// Only the form is checked here: what a server refuses in a request
		// URI (a dot-segment...) is the verifier's verdict, shown as such.
		if _, err := parseURL(in.url); err != nil {
			return e.errorf(exitUsage, "inspect", "%v", err)
		}
	}
	if *jwksPath != "" {
		doc, err := os.ReadFile(*jwksPath)
		if err != nil {
			return e.errorf(exitUsage, "inspect", "-jwks: %v", err)
		}
		if in.keys, err = validate.NewStaticKeySet(doc); err != nil {
			return e.errorf(exitUsage, "inspect", "-jwks %s: %v", *jwksPath, err)
		}
	}
	if len(headers) > 0 {
		in.headers = http.Header{}
		for _, h := range headers {
			name, value, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return e.errorf(exitUsage, "inspect", "-header %q: want \"Name: value\"", h)
			}
			in.headers.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	if *bodyPath != "" {
		var err error
		if in.body, err = os.ReadFile(*bodyPath); err != nil {
			return e.errorf(exitUsage, "inspect", "-body: %v", err)
		}
		in.hasBody = true
	}
	input, err := inspectInput(e, pos[0])
	if err != nil {
		return e.errorf(exitUsage, "inspect", "%v", err)
	}
	d := decodeLenient(input)
	kind := detectKind(d)
	switch *as {
	case "":
	case "proof", "dpop", kindProof:
		kind = kindProof
	case "shr", "pop", kindSHR:
		kind = kindSHR
	case "token", "at", kindToken:
		kind = kindToken
	default:
		return e.errorf(exitUsage, "inspect", "-as must be proof, shr or token")
	}
	r := in.inspect(kind, input, d)
	if *asJSON {
		_, _ = e.stdout.Write(marshalIndent(r))
	} else {
		printReport(e.stdout, r)
	}
	if !r.OK {
		return exitFail
	}
	return exitOK
}

// inspect runs the verifier of kind on input.
func (in *inspector) inspect(kind, input string, d decoded) *report {
	r := &report{Kind: kind, Header: d.header, Payload: d.payload, At: in.now.Unix()}
	switch kind {
	case kindProof:
		in.inspectProof(input)
	case kindSHR:
		r.AccessToken = in.inspectSHR(input, d)
	default:
		// Not a JWS at all: the token verifier says why, and the lenient
		// decoder adds what it is.
		in.inspectToken(input)
		if c := in.find("structure"); kind == kindUnknown && c != nil && !c.OK {
			c.Detail = d.problem + "; " + c.Detail
		}
	}
	r.Checks, r.Reason = in.checks, string(in.reason)
	r.OK = true
	for _, c := range r.Checks {
		if !c.OK {
			r.OK = false
		}
	}
	return r
}

// inspectInput returns the JWS to inspect: stdin, a file, or the argument
// itself, with any header or scheme prefix removed.
func inspectInput(e *env, arg string) (string, error) {
	var s string
	switch {
	case arg == "-":
		b, err := io.ReadAll(io.LimitReader(e.stdin, inspectMaxInput))
		if err != nil {
			return "", err
		}
		s = string(b)
	case strings.Count(arg, ".") >= 2 && !strings.ContainsAny(arg, "/\\"):
		s = arg
		if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() && st.Size() < inspectMaxInput {
			b, err := os.ReadFile(arg)
			if err != nil {
				return "", err
			}
			s = string(b)
		}
	default:
		b, err := os.ReadFile(arg)
		if err != nil {
			if strings.Contains(arg, ".") {
				return "", fmt.Errorf("%q is neither a readable file nor a compact JWS: %v", arg, err)
			}
			return "", fmt.Errorf("%q is neither a file nor a compact JWS (header.payload.signature)", arg)
		}
		if len(b) > inspectMaxInput {
			return "", fmt.Errorf("%s is too large", arg)
		}
		s = string(b)
	}
	s = strings.TrimSpace(s)
	for _, prefix := range []string{"authorization:", "dpop:"} {
		if len(s) > len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
			s = strings.TrimSpace(s[len(prefix):])
		}
	}
	for _, scheme := range []string{"dpop ", "pop ", "bearer "} {
		if len(s) > len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = strings.TrimSpace(s[len(scheme):])
		}
	}
	if s == "" {
		return "", errors.New("the input is empty")
	}
	return s, nil
}

// decoded is a leniently decoded JWS, for display and kind detection only:
// every verdict is the verifier's.
type decoded struct {
	header, payload json.RawMessage // nil unless valid JSON objects
	hdr, pl         map[string]any
	problem         string // why it is not a JWS at all
}

func decodeLenient(s string) decoded {
	var d decoded
	segs := strings.Split(s, ".")
	switch {
	case len(segs) == 5:
		d.problem = "5 segments: a JWE (encrypted token); only its recipient can read it"
	case len(segs) != 3:
		d.problem = fmt.Sprintf("%d segment(s): a compact JWS has 3 (header.payload.signature)", len(segs))
	}
	if len(segs) < 2 {
		return d
	}
	dec := func(seg string) (json.RawMessage, map[string]any) {
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
			b, err := enc.DecodeString(seg)
			if err != nil {
				continue
			}
			var m map[string]any
			if json.Unmarshal(b, &m) != nil {
				return nil, nil
			}
			return json.RawMessage(bytes.TrimSpace(b)), m
		}
		return nil, nil
	}
	d.header, d.hdr = dec(segs[0])
	if len(segs) == 3 {
		d.payload, d.pl = dec(segs[1])
	}
	if d.problem == "" && (d.hdr == nil || d.pl == nil) {
		d.problem = "the header or payload is not base64url-encoded JSON"
	}
	return d
}

func detectKind(d decoded) string {
	if d.problem != "" {
		return kindUnknown
	}
	typ, _ := d.hdr["typ"].(string)
	typ = strings.ToLower(strings.TrimPrefix(strings.ToLower(typ), "application/"))
	_, hasAt := d.pl["at"]
	_, hasHTM := d.pl["htm"]
	_, hasHTU := d.pl["htu"]
	switch {
	case typ == "dpop+jwt":
		return kindProof
	case typ == "pop":
		return kindSHR
	case hasAt && !hasHTM && !hasHTU:
		return kindSHR
	case hasHTM || hasHTU:
		return kindProof
	}
	return kindToken
}
