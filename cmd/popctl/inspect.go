package main

// inspect: decode a DPoP proof, a PoP signed HTTP request or an access
// token, and explain check by check why it would pass or fail.
//
// Every check is done twice: step by step here, so that each passing check
// can be shown with its value, and by the library (validate.ProofVerifier,
// validate.JWTVerifier, validate.SHRVerifier) with the same clock, whose
// verdict is authoritative: its first failure is reported with its
// popguard reason on the check it concerns.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/validate"
)

const inspectHelp = `
Usage: popctl inspect [-method M -url U] [-token AT] [-at TIME] [-jwks FILE -iss ISS -aud AUD]
                      [-header 'Name: value'] [-body FILE] [--json] PROOF|SHR|TOKEN|FILE|-

Decodes a DPoP proof (typ dpop+jwt), a Microsoft PoP signed HTTP request
(typ pop, or an at claim) or an access token (anything else), prints its
header and payload, and explains check by check whether a popguard server
would accept it for the given request at the given time. The input is the
compact JWS itself, a file holding it, or "-" for stdin; a leading
"Authorization: DPoP ", "DPoP: ", "PoP " or "Bearer " is ignored.

Checks that need information you did not give (-method, -url, -token, -jwks,
-iss, -aud, -body, -header) are shown as not checked (–), never as passed.
The library's own verdict (validate.ProofVerifier, JWTVerifier, SHRVerifier
with their default settings and a clock at -at) is the last check.

  DPoP proof: structure, typ, alg, jwk (public, not private), alg fits the
    key, thumbprint (and the token's cnf.jkt when -token is a JWT), claims,
    htm vs -method, htu vs -url (canonical forms), iat vs the 60s/10s
    window, ath vs -token, signature.
  Access token: structure, typ, alg, kid, claims, iss vs -iss, aud vs -aud,
    exp/nbf/iat vs -at (30s leeway), cnf (binding kind and value),
    signature with -jwks.
  SHR: structure, typ, alg, claims, ts vs the 5m/30s window, m, u, p, q, h,
    b vs the request, cnf.jwk, kid, the at token and its binding (cnf.kid
    = thumbprint of cnf.jwk), signature; the at signature with -jwks.

Exit status: 0 every check passed, 1 a check failed, 2 usage or input error.

Examples:
  popctl inspect -method GET -url https://api.example.com/x -token "$AT" "$PROOF"
  popctl inspect -at 1562262618 -method GET -url https://resource.example.org/protectedresource \
      -token 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU' proof.jwt
  popctl inspect -jwks jwks.json -iss https://issuer.test -aud https://api.test "$AT"
  popctl inspect --json -method POST -url https://api.example.com/x - < shr.txt | jq .checks
`

// check is one line of an inspection.
type check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
	// Reason is the popguard reason the library gave, when its verdict
	// concerns this check.
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
}

// Kinds.
const (
	kindProof   = "dpop-proof"
	kindSHR     = "pop-shr"
	kindToken   = "access-token"
	kindUnknown = "unknown"
)

type inspector struct {
	method, url, token string
	iss, aud           string
	now                time.Time
	keys               *validate.StaticKeySet
	acceptJWT          bool
	browserCompat      bool
	headers            http.Header
	body               []byte
	hasBody            bool

	checks []check
}

func (in *inspector) add(c check) *check {
	in.checks = append(in.checks, c)
	return &in.checks[len(in.checks)-1]
}

func (in *inspector) pass(name, format string, a ...any) {
	in.add(check{Name: name, OK: true, Detail: fmt.Sprintf(format, a...)})
}

func (in *inspector) fail(name, format string, a ...any) {
	in.add(check{Name: name, Detail: fmt.Sprintf(format, a...)})
}

func (in *inspector) skip(name, format string, a ...any) {
	in.add(check{Name: name, OK: true, Skipped: true, Detail: fmt.Sprintf(format, a...)})
}

func (in *inspector) find(name string) *check {
	for i := range in.checks {
		if in.checks[i].Name == name {
			return &in.checks[i]
		}
	}
	return nil
}

// verdict records the library's verdict as the check "verifier" and puts
// its reason on the check it concerns (name, from the reason). A failure
// on a check that was not run (missing input) makes the verdict
// inconclusive rather than failed; a failure on a check that passed here
// turns that check into a failure: the library is authoritative.
func (in *inspector) verdict(lib string, err error, name string, accepted string) {
	if err == nil {
		in.pass("verifier", "%s", accepted)
		return
	}
	pe := popguard.AsError(err)
	why := string(pe.Reason) + ": " + pe.Description
	if pe.Err != nil {
		why += " (" + pe.Err.Error() + ")"
	}
	c := in.find(name)
	if c != nil && c.Skipped {
		in.skip("verifier", "%s stopped at %s, which is not checked here: %s", lib, name, why)
		return
	}
	if c == nil {
		c = in.add(check{Name: name, Detail: pe.Description})
	} else if c.OK {
		c.OK = false
		c.Detail += "; but " + lib + " says: " + pe.Description
	}
	c.Reason = string(pe.Reason)
	in.fail("verifier", "%s rejects it: %s", lib, why)
}

const inspectMaxInput = 1 << 20

func runInspect(e *env, args []string) int {
	fs := newFlags("inspect", inspectHelp)
	in := &inspector{}
	fs.StringVar(&in.method, "method", "", "request method (compared with htm / m)")
	fs.StringVar(&in.url, "url", "", "request URL (compared with htu / u, p, q)")
	fs.StringVar(&in.token, "token", "", "access token sent with the proof (checks ath, and cnf.jkt if a JWT)")
	at := fs.String("at", "", "check at this time: unix seconds or RFC 3339 (default now)")
	jwksPath := fs.String("jwks", "", "issuer JWK Set file: check token (and SHR at) signatures")
	fs.StringVar(&in.iss, "iss", "", "expected token issuer (exact)")
	fs.StringVar(&in.aud, "aud", "", "this API's audience")
	fs.BoolVar(&in.acceptJWT, "accept-jwt", false, `accept access tokens with typ "JWT" (validate.AcceptJWTType, Entra ID)`)
	fs.BoolVar(&in.browserCompat, "msal-browser-compat", false, "SHR: accept msal-browser's lower-cased u/p/q (validate.MSALBrowserCompat)")
	var headers stringList
	fs.Var(&headers, "header", `SHR: a request header "Name: value" for the h claim (repeatable)`)
	bodyPath := fs.String("body", "", "SHR: request body file for the b claim")
	as := fs.String("as", "", "force the kind: proof, shr or token (default: detected)")
	asJSON := fs.Bool("json", false, "print a JSON report instead of text")
	pos, code, done := parseFlags(e, fs, args)
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
		if _, err := parseRequestURL(in.url); err != nil {
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
	r := &report{Kind: kind, Header: d.header, Payload: d.payload, At: in.now.Unix()}
	switch kind {
	case kindProof:
		in.inspectProof(input)
	case kindSHR:
		r.AccessToken = in.inspectSHR(input)
	case kindToken:
		in.inspectToken(input)
	default:
		in.fail("structure", "%s", d.problem)
	}
	r.Checks = in.checks
	r.OK = true
	for _, c := range r.Checks {
		if !c.OK {
			r.OK = false
		}
	}
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

// decoded is a leniently decoded JWS, for display and kind detection.
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

// parseStrict runs the library's compact JWS parser: the structure check.
func (in *inspector) parseStrict(s string, maxSize int) *jose.JWS {
	j, err := jose.ParseCompact(s, maxSize)
	if errors.Is(err, jose.ErrTooLarge) {
		in.fail("structure", "%d bytes: larger than the %d-byte limit", len(s), maxSize)
		if j, err = jose.ParseCompact(s, inspectMaxInput); err != nil {
			return nil
		}
		return j
	}
	if err != nil {
		in.fail("structure", "%v", err)
		return nil
	}
	in.pass("structure", "compact JWS, strict base64url and JSON, %d bytes", len(s))
	return j
}

// checkAlg checks the JWS alg against an allow-list and returns it when
// usable.
func (in *inspector) checkAlg(j *jose.JWS, allowed []string, what, name string) *jose.Alg {
	list := strings.Join(allowed, " ")
	alg, ok := jose.LookupAlg(j.Alg)
	switch {
	case strings.EqualFold(j.Alg, "none"):
		in.fail(name, `"none": unsigned %ss are never accepted`, what)
	case strings.HasPrefix(j.Alg, "HS"):
		in.fail(name, "%s: symmetric (HMAC) algorithms are not accepted for %ss (allowed: %s)", j.Alg, what, list)
	case !ok || !slices.Contains(allowed, j.Alg) && !(j.Alg == "Ed25519" && slices.Contains(allowed, "EdDSA")):
		in.fail(name, "%s is not in the allow-list (%s)", j.Alg, list)
	default:
		in.pass(name, "%s", j.Alg)
		return alg
	}
	return nil
}

// describeKey says what a public key is.
func describeKey(k *jose.PublicKey) string {
	switch k.Kty {
	case "RSA":
		if pk, ok := validateRSABits(k); ok {
			return fmt.Sprintf("RSA %d-bit public key", pk)
		}
		return "RSA public key"
	default:
		return k.Kty + " " + k.Crv + " public key"
	}
}

// jwkProblem explains a ParseJWK error.
func jwkProblem(err error) string {
	switch {
	case errors.Is(err, jose.ErrJWKPrivate):
		return "the jwk holds private key material (d, p, q...): the client is sending its private key; send only the public members"
	case errors.Is(err, jose.ErrJWKSymmetric):
		return "the jwk is a symmetric (oct) key: proofs need an asymmetric key"
	}
	return err.Error()
}

// requestTarget is the request as the checks see it.
type requestTarget struct {
	scheme, host, path, rawQuery string
}

func (in *inspector) target() *requestTarget {
	if in.url == "" {
		return nil
	}
	u, err := parseRequestURL(in.url)
	if err != nil {
		return nil
	}
	return &requestTarget{scheme: u.Scheme, host: u.Host, path: rawPath(in.url), rawQuery: u.RawQuery}
}

// ago describes t relative to now: "12s ago", "in 40s", "just now".
func ago(t, now time.Time) string {
	d := now.Sub(t).Round(time.Second)
	switch {
	case d > 0:
		return humanDuration(d) + " ago"
	case d < 0:
		return "in " + humanDuration(-d)
	}
	return "just now"
}

// humanDuration writes d in whole seconds without zero parts: "40s",
// "1m", "2m5s", "3h2m", "2d3h".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		d = -d
	}
	units := []struct {
		n    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	var b strings.Builder
	parts := 0
	for _, u := range units {
		if parts == 2 {
			break
		}
		if q := d / u.n; q > 0 {
			fmt.Fprintf(&b, "%d%s", q, u.name)
			d -= q * u.n
			parts++
		} else if parts > 0 {
			break
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// claim helpers over the strict payload members.

func memberString(ms []jose.Member, name string) (s string, present, ok bool) {
	v, present := jose.Lookup(ms, name)
	if !present {
		return "", false, false
	}
	s, ok = jose.String(v)
	return s, true, ok
}

func memberTime(ms []jose.Member, name string) (t time.Time, present, ok bool) {
	v, present := jose.Lookup(ms, name)
	if !present {
		return time.Time{}, false, false
	}
	f, ok := jose.Number(v)
	if !ok || f < 0 || f >= 1e11 {
		return time.Time{}, true, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, true
}

// ---------------------------------------------------------------- DPoP proof

func (in *inspector) inspectProof(s string) {
	j := in.parseStrict(s, validate.DefaultMaxProofSize)
	if j == nil {
		in.proofVerdict(s, "", "")
		return
	}
	if j.Typ == "dpop+jwt" {
		in.pass("typ", "dpop+jwt")
	} else if !j.HasTyp {
		in.fail("typ", `missing: a DPoP proof has typ "dpop+jwt"`)
	} else {
		in.fail("typ", `%q: a DPoP proof has typ "dpop+jwt" (exactly)`, j.Typ)
	}
	alg := in.checkAlg(j, validate.DefaultProofAlgs(), "DPoP proof", "alg")

	var key *jose.PublicKey
	var forbidden []string
	for _, h := range []string{"jku", "x5u", "x5c", "x5t", "x5t#S256"} {
		if j.HeaderHas(h) {
			forbidden = append(forbidden, h)
		}
	}
	switch {
	case j.JWK == nil:
		in.fail("jwk", "no jwk header: a proof carries its public key in jwk")
	case len(forbidden) > 0:
		in.fail("jwk", "header %s: the proof key must come from jwk only", strings.Join(forbidden, ", "))
	default:
		k, err := jose.ParseJWK(j.JWK, jose.KeyPolicy{})
		if err != nil {
			in.fail("jwk", "%s", jwkProblem(err))
		} else {
			key = k
			in.pass("jwk", "%s (no private members)", describeKey(k))
		}
	}
	if alg != nil && key != nil {
		if alg.Fits(key) {
			in.pass("alg-key", "%s fits the %s key", j.Alg, keyKind(key))
		} else {
			in.fail("alg-key", "%s cannot be used with the %s key in jwk", j.Alg, keyKind(key))
		}
	}
	if key != nil {
		in.pass("thumbprint", "jkt %s", key.Thumbprint)
		in.checkProofBinding(key.Thumbprint)
	}

	// Claims.
	ms := j.Payload
	var missing, wrong []string
	jti, has, ok := memberString(ms, "jti")
	if !has || (ok && jti == "") {
		missing = append(missing, "jti")
	} else if !ok {
		wrong = append(wrong, "jti (not a string)")
	}
	htm, hasHTM, okHTM := memberString(ms, "htm")
	if !hasHTM || (okHTM && htm == "") {
		missing = append(missing, "htm")
	} else if !okHTM {
		wrong = append(wrong, "htm (not a string)")
	}
	htu, hasHTU, okHTU := memberString(ms, "htu")
	if !hasHTU || (okHTU && htu == "") {
		missing = append(missing, "htu")
	} else if !okHTU {
		wrong = append(wrong, "htu (not a string)")
	}
	iat, hasIAT, okIAT := memberTime(ms, "iat")
	if !hasIAT {
		missing = append(missing, "iat")
	} else if !okIAT {
		wrong = append(wrong, "iat (not a NumericDate number)")
	}
	ath, hasATH, okATH := memberString(ms, "ath")
	if hasATH && !okATH {
		wrong = append(wrong, "ath (not a string)")
	}
	nonce, hasNonce, okNonce := memberString(ms, "nonce")
	if hasNonce && !okNonce {
		wrong = append(wrong, "nonce (not a string)")
	}
	switch {
	case len(missing) > 0:
		in.fail("claims", "missing %s (required: jti, htm, htu, iat)", strings.Join(missing, ", "))
	case len(wrong) > 0:
		in.fail("claims", "wrong type: %s", strings.Join(wrong, ", "))
	case len(jti) > validate.DefaultMaxJTILength:
		in.fail("claims", "jti is %d bytes, over the %d-byte limit", len(jti), validate.DefaultMaxJTILength)
	default:
		extra := ""
		if hasATH {
			extra += ", ath"
		}
		if hasNonce {
			extra += ", nonce"
		}
		in.pass("claims", "jti, htm, htu, iat%s present", extra)
	}

	if okHTM && htm != "" {
		switch {
		case in.method == "":
			in.skip("htm", "%s (not compared: no -method)", htm)
		case htm == in.method:
			in.pass("htm", "%s = request method", htm)
		case strings.EqualFold(htm, in.method):
			in.fail("htm", "%q ≠ request method %q: methods are case-sensitive", htm, in.method)
		default:
			in.fail("htm", "%q ≠ request method %q", htm, in.method)
		}
	}
	canonHTU := ""
	if okHTU && htu != "" {
		c, err := validate.CanonicalHTU(htu)
		switch {
		case err != nil:
			in.fail("htu", "%q: %v", htu, err)
		case in.url == "":
			canonHTU = c
			in.skip("htu", "%s (not compared: no -url)", c)
		default:
			canonHTU = c
			t, _ := validate.CanonicalTarget(in.url)
			if c == t {
				in.pass("htu", "canonical htu %s = canonical request URI %s", c, t)
			} else {
				hint := ""
				switch {
				case strings.TrimSuffix(c, "/") == strings.TrimSuffix(t, "/"):
					hint = ": a trailing slash counts"
				case strings.EqualFold(c, t):
					hint = ": the path is case-sensitive"
				}
				in.fail("htu", "canonical htu %s ≠ canonical request URI %s%s", c, t, hint)
			}
		}
	}
	if okIAT {
		maxAge, skew := validate.DefaultProofMaxAge, validate.DefaultProofFutureSkew
		switch {
		case iat.Before(in.now.Add(-maxAge)):
			in.fail("iat", "issued %s ago (%s): older than the %s max age", humanDuration(in.now.Sub(iat)), stamp(iat), humanDuration(maxAge))
		case iat.After(in.now.Add(skew)):
			in.fail("iat", "in the future by %s (%s): more than the %s allowed skew; is the client clock ahead?", humanDuration(iat.Sub(in.now)), stamp(iat), humanDuration(skew))
		case iat.After(in.now):
			in.pass("iat", "in the future by %s (%s), within the %s skew", humanDuration(iat.Sub(in.now)), stamp(iat), humanDuration(skew))
		default:
			in.pass("iat", "issued %s (%s); accepted until %s", ago(iat, in.now), stamp(iat), stamp(iat.Add(maxAge)))
		}
	}
	switch {
	case hasATH && !okATH:
	case in.token == "" && hasATH:
		in.skip("ath", "%s (not compared: no -token)", ath)
	case in.token == "":
		in.skip("ath", "absent (not checked: no -token; a resource server requires ath)")
	case !hasATH:
		in.fail("ath", "absent: a proof sent with an access token must carry ath = base64url(SHA-256(token))")
	case ath == jose.HashB64(in.token):
		in.pass("ath", "%s = SHA-256 of the token", ath)
	default:
		in.fail("ath", "%s ≠ SHA-256 of the token %s: made for another token?", ath, jose.HashB64(in.token))
	}
	if hasNonce && okNonce {
		in.skip("nonce", "%q (not checked: only the server that issued it can)", nonce)
	}
	if alg != nil && key != nil && alg.Fits(key) {
		if err := jose.Verify(alg, key, j.SigningInput, j.Signature); err != nil {
			in.fail("signature", "does not verify with the jwk: the proof was altered or signed with another key")
		} else {
			in.pass("signature", "%s signature verifies with the jwk", j.Alg)
		}
	} else {
		in.skip("signature", "not checked: no usable alg and key")
	}
	if canonHTU == "" && okHTU {
		canonHTU = htu
	}
	in.proofVerdict(s, htm, canonHTU)
}

// checkProofBinding compares a JWT -token's cnf.jkt with the proof key.
func (in *inspector) checkProofBinding(jkt string) {
	if in.token == "" {
		return
	}
	tj, err := jose.ParseCompact(in.token, validate.DefaultMaxTokenSize)
	if err != nil {
		in.skip("cnf.jkt", "the token is opaque: its binding is known only to introspection")
		return
	}
	cnf, ok := jose.Lookup(tj.Payload, "cnf")
	if !ok {
		in.fail("cnf.jkt", "the token has no cnf: it is not DPoP-bound, so the DPoP scheme refuses it")
		return
	}
	members, err := jose.ParseObject(cnf)
	if err != nil {
		in.fail("cnf.jkt", "the token's cnf is not a JSON object")
		return
	}
	v, ok := jose.Lookup(members, "jkt")
	if !ok {
		in.fail("cnf.jkt", "the token is bound by another mechanism (%s), not a DPoP key", memberNames(members))
		return
	}
	tokJKT, _ := jose.String(v)
	if tokJKT == jkt {
		in.pass("cnf.jkt", "the token's cnf.jkt = the proof key's thumbprint")
	} else {
		in.fail("cnf.jkt", "the token's cnf.jkt %s ≠ the proof key's thumbprint %s: wrong key", tokJKT, jkt)
	}
}

func (in *inspector) proofVerdict(s, htm, htu string) {
	pv, err := validate.NewProofVerifier(validate.Clock(func() time.Time { return in.now }))
	if err != nil {
		panic(err)
	}
	req := validate.ProofRequest{Method: in.method, Target: in.url, AccessToken: in.token}
	note := ""
	if req.Method == "" {
		req.Method, note = htm, " (with the proof's own htm: no -method)"
	}
	if req.Target == "" {
		req.Target = htu
		note += " (with the proof's own htu: no -url)"
	}
	if req.Target == "" {
		req.Target = "https://popctl.invalid/"
	}
	_, err = pv.Verify(s, req)
	in.verdict("validate.ProofVerifier", err, proofCheckOf(err), "validate.ProofVerifier accepts it"+note)
}

func proofCheckOf(err error) string {
	pe := popguard.AsError(err)
	if pe == nil {
		return ""
	}
	switch pe.Reason {
	case popguard.ReasonProofMalformed, popguard.ReasonProofTooLarge, popguard.ReasonProofCrit, popguard.ReasonProofMissing:
		return "structure"
	case popguard.ReasonProofType:
		return "typ"
	case popguard.ReasonProofAlg:
		if strings.Contains(pe.Description, "jwk") {
			return "alg-key"
		}
		return "alg"
	case popguard.ReasonProofKey:
		return "jwk"
	case popguard.ReasonProofClaims, popguard.ReasonProofJTI:
		return "claims"
	case popguard.ReasonProofHTM:
		return "htm"
	case popguard.ReasonProofHTU, popguard.ReasonBadTarget:
		return "htu"
	case popguard.ReasonProofIAT:
		if strings.Contains(pe.Description, "no iat") {
			return "claims"
		}
		return "iat"
	case popguard.ReasonProofATH:
		return "ath"
	case popguard.ReasonProofSignature:
		return "signature"
	case popguard.ReasonNonceMissing, popguard.ReasonNonceInvalid:
		return "nonce"
	}
	return string(pe.Reason)
}

func keyKind(k *jose.PublicKey) string {
	if k.Crv != "" {
		return k.Kty + " " + k.Crv
	}
	return k.Kty
}

func memberNames(ms []jose.Member) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = "cnf." + m.Name
	}
	return strings.Join(names, ", ")
}

// --------------------------------------------------------------- access token

// noKeys is a key set without keys: JWTVerifier then checks every claim
// and stops at the signature, which needs -jwks.
type noKeys struct{}

func (noKeys) Keys(context.Context, string) ([]validate.PublicKey, error) { return nil, nil }

func (in *inspector) inspectToken(s string) {
	j := in.parseStrict(s, validate.DefaultMaxTokenSize)
	if j == nil {
		in.tokenVerdict(s, "")
		return
	}
	in.tokenChecks(j, "")
	iss, _, _ := memberString(j.Payload, "iss")
	in.tokenVerdict(s, iss)
}

// tokenChecks checks an access token; prefix names the checks ("at." for
// the at claim of an SHR).
func (in *inspector) tokenChecks(j *jose.JWS, prefix string) {
	name := func(n string) string { return prefix + n }
	switch {
	case j.Typ == "at+jwt" || j.Typ == "application/at+jwt":
		in.pass(name("typ"), "%s", j.Typ)
	case (!j.HasTyp || j.Typ == "JWT") && in.acceptJWT:
		in.pass(name("typ"), "%s (accepted with -accept-jwt, as validate.AcceptJWTType does)", typOrMissing(j))
	case !j.HasTyp || j.Typ == "JWT":
		in.fail(name("typ"), `%s: RFC 9068 access tokens have typ "at+jwt" (Entra ID tokens: a server with validate.AcceptJWTType, -accept-jwt here)`, typOrMissing(j))
	default:
		in.fail(name("typ"), `%q: an access token has typ "at+jwt"`, j.Typ)
	}
	if strings.HasPrefix(j.Alg, "HS") {
		in.fail(name("alg"), "%s: an HMAC token, accepted only by a server configured with its secret (validate.HMACSecret)", j.Alg)
	} else {
		in.checkAlg(j, validate.DefaultTokenAlgs(), "access token", name("alg"))
	}
	switch {
	case j.JWK != nil || j.HeaderHas("jku") || j.HeaderHas("x5u"):
		in.fail(name("kid"), "the token names its own key (jwk, jku or x5u header): only the issuer's keys are used")
	case j.HasKid:
		in.pass(name("kid"), "issuer key %q", j.Kid)
	default:
		in.pass(name("kid"), "none (every issuer key is tried)")
	}

	ms := j.Payload
	required := []string{"iss", "exp", "aud", "sub", "client_id", "iat", "jti"}
	if in.acceptJWT {
		required = []string{"iss", "sub", "aud", "exp", "iat"}
	}
	var missing, wrong []string
	for _, n := range required {
		if _, ok := jose.Lookup(ms, n); !ok {
			missing = append(missing, n)
		}
	}
	for _, m := range ms {
		ok := true
		switch m.Name {
		case "iss", "sub", "client_id", "jti", "scope":
			_, ok = jose.String(m.Value)
		case "aud":
			if _, ok = jose.String(m.Value); !ok {
				_, ok = jose.StringArray(m.Value)
			}
		case "exp", "nbf", "iat":
			f, isNum := jose.Number(m.Value)
			ok = isNum && f >= 0 && f < 1e11
		}
		if !ok {
			wrong = append(wrong, m.Name)
		}
	}
	switch {
	case len(missing) > 0:
		in.fail(name("claims"), "missing %s (required: %s)", strings.Join(missing, ", "), strings.Join(required, ", "))
	case len(wrong) > 0:
		in.fail(name("claims"), "wrong type: %s", strings.Join(wrong, ", "))
	default:
		in.pass(name("claims"), "%s present", strings.Join(required, ", "))
	}

	iss, hasIss, _ := memberString(ms, "iss")
	switch {
	case !hasIss:
	case in.iss == "":
		in.skip(name("iss"), "%q (not compared: no -iss)", iss)
	case iss == in.iss:
		in.pass(name("iss"), "%q = -iss", iss)
	default:
		in.fail(name("iss"), "%q ≠ -iss %q (compared exactly)", iss, in.iss)
	}
	var aud []string
	if v, ok := jose.Lookup(ms, "aud"); ok {
		if a, isStr := jose.String(v); isStr {
			aud = []string{a}
		} else {
			aud, _ = jose.StringArray(v)
		}
		switch {
		case in.aud == "":
			in.skip(name("aud"), "%s (not compared: no -aud)", quoteList(aud))
		case slices.Contains(aud, in.aud):
			in.pass(name("aud"), "%s contains -aud %q", quoteList(aud), in.aud)
		default:
			in.fail(name("aud"), "%s does not contain -aud %q: the token is meant for another API", quoteList(aud), in.aud)
		}
	}
	leeway := validate.DefaultLeeway
	if exp, has, ok := memberTime(ms, "exp"); has && ok {
		switch {
		case !in.now.Before(exp.Add(leeway)):
			in.fail(name("exp"), "expired %s ago (%s), beyond the %s leeway", humanDuration(in.now.Sub(exp)), stamp(exp), humanDuration(leeway))
		case !in.now.Before(exp):
			in.pass(name("exp"), "expired %s ago (%s), within the %s leeway", humanDuration(in.now.Sub(exp)), stamp(exp), humanDuration(leeway))
		default:
			in.pass(name("exp"), "expires in %s (%s)", humanDuration(exp.Sub(in.now)), stamp(exp))
		}
	}
	if nbf, has, ok := memberTime(ms, "nbf"); has && ok {
		if in.now.Add(leeway).Before(nbf) {
			in.fail(name("nbf"), "not valid for another %s (%s), beyond the %s leeway", humanDuration(nbf.Sub(in.now)), stamp(nbf), humanDuration(leeway))
		} else {
			in.pass(name("nbf"), "valid since %s (%s)", ago(nbf, in.now), stamp(nbf))
		}
	}
	if iat, has, ok := memberTime(ms, "iat"); has && ok {
		if in.now.Add(leeway).Before(iat) {
			in.fail(name("iat"), "issued in the future by %s (%s), beyond the %s leeway", humanDuration(iat.Sub(in.now)), stamp(iat), humanDuration(leeway))
		} else {
			in.pass(name("iat"), "issued %s (%s)", ago(iat, in.now), stamp(iat))
		}
	}
	in.cnfCheck(ms, name("cnf"))
	in.tokenSignature(j, name("signature"))
}

func typOrMissing(j *jose.JWS) string {
	if !j.HasTyp {
		return "missing"
	}
	return fmt.Sprintf("%q", j.Typ)
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// cnfCheck describes the token's binding.
func (in *inspector) cnfCheck(ms []jose.Member, name string) {
	raw, ok := jose.Lookup(ms, "cnf")
	if !ok {
		in.pass(name, "absent: an unbound (Bearer) token; the DPoP and PoP schemes refuse it")
		return
	}
	members, err := jose.ParseObject(raw)
	if err != nil {
		in.fail(name, "not a JSON object")
		return
	}
	var kinds []string
	for _, m := range members {
		s, isStr := jose.String(m.Value)
		switch m.Name {
		case "jkt":
			if !isStr || len(s) != 43 || !jose.IsB64URL(s) {
				in.fail(name, "cnf.jkt must be a bare RFC 7638 SHA-256 thumbprint (43 base64url characters), not %s", m.Value)
				return
			}
			kinds = append(kinds, "DPoP-bound: cnf.jkt "+s)
		case "kid":
			if !isStr || s == "" {
				in.fail(name, "cnf.kid must be a non-empty string")
				return
			}
			kinds = append(kinds, "PoP-bound (Entra ID style): cnf.kid "+s+" = thumbprint of the SHR's cnf.jwk")
		case "jwk":
			k, err := jose.ParseJWK(m.Value, jose.KeyPolicy{})
			if err != nil {
				in.fail(name, "cnf.jwk: %s", jwkProblem(err))
				return
			}
			kinds = append(kinds, "PoP-bound: cnf.jwk, "+describeKey(k)+", thumbprint "+k.Thumbprint)
		case "jku":
			kinds = append(kinds, "bound by cnf.jku "+s+" (popguard never dereferences it)")
		case "jwe":
			kinds = append(kinds, "bound to an encrypted symmetric key (cnf.jwe; popguard refuses it)")
		case "x5t#S256":
			kinds = append(kinds, "mTLS-bound (RFC 8705): cnf.x5t#S256 "+s)
		}
	}
	_, hasKid := jose.Lookup(members, "kid")
	_, hasJKT := jose.Lookup(members, "jkt")
	_, hasX5t := jose.Lookup(members, "x5t#S256")
	switch {
	case len(kinds) == 0:
		in.fail(name, "names no key (%s)", memberNames(members))
	case len(kinds) > 1 && !(hasKid && len(kinds) == 2 && !hasJKT && !hasX5t):
		in.fail(name, "names more than one key: %s", strings.Join(kinds, "; "))
	default:
		in.pass(name, "%s", strings.Join(kinds, "; "))
	}
}

// tokenSignature checks the token signature with the -jwks keys.
func (in *inspector) tokenSignature(j *jose.JWS, name string) {
	if in.keys == nil {
		in.skip(name, "not checked: give the issuer's keys with -jwks FILE")
		return
	}
	alg, ok := jose.LookupAlg(j.Alg)
	if !ok {
		in.fail(name, "not checked: alg %s is not usable", j.Alg)
		return
	}
	keys, _ := in.keys.Keys(context.Background(), j.Kid)
	tried := 0
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != j.Alg && !(isEdDSA(k.Algorithm) && isEdDSA(j.Alg)) {
			continue
		}
		pk, err := jose.FromCrypto(k.Key)
		if err != nil || !alg.Fits(pk) {
			continue
		}
		tried++
		if jose.Verify(alg, pk, j.SigningInput, j.Signature) == nil {
			in.pass(name, "%s signature verifies with issuer key %q", j.Alg, k.KeyID)
			return
		}
	}
	if tried == 0 {
		in.fail(name, "no key in -jwks fits kid %q and alg %s", j.Kid, j.Alg)
		return
	}
	in.fail(name, "does not verify with the %d matching key(s) in -jwks: altered, or signed by another issuer", tried)
}

func isEdDSA(a string) bool { return a == "EdDSA" || a == "Ed25519" }

// jwtVerifier returns the library verifier inspect runs, for issuer iss.
func (in *inspector) jwtVerifier(iss string) (*validate.JWTVerifier, error) {
	if in.iss != "" {
		iss = in.iss
	}
	if iss == "" {
		iss = "(no iss)"
	}
	var keys validate.KeySet = noKeys{}
	if in.keys != nil {
		keys = in.keys
	}
	opts := []validate.Option{validate.Clock(func() time.Time { return in.now })}
	if in.aud != "" {
		opts = append(opts, validate.Audience(in.aud))
	} else {
		opts = append(opts, validate.SkipAudienceCheck())
	}
	if in.acceptJWT {
		opts = append(opts, validate.AcceptJWTType())
	}
	return validate.NewJWTVerifier(iss, keys, opts...)
}

func (in *inspector) tokenVerdict(s, iss string) {
	v, err := in.jwtVerifier(iss)
	if err != nil {
		panic(err)
	}
	_, err = v.VerifyToken(context.Background(), s)
	in.verdict("validate.JWTVerifier", err, tokenCheckOf(err, ""), "validate.JWTVerifier accepts it")
}

func tokenCheckOf(err error, prefix string) string {
	pe := popguard.AsError(err)
	if pe == nil {
		return ""
	}
	n := ""
	switch pe.Reason {
	case popguard.ReasonTokenMalformed:
		n = "structure"
	case popguard.ReasonTokenType:
		n = "typ"
	case popguard.ReasonTokenAlg:
		n = "alg"
	case popguard.ReasonTokenKey:
		n = "signature"
		if strings.Contains(pe.Description, "names its own key") {
			n = "kid"
		}
	case popguard.ReasonTokenSignature, popguard.ReasonKeySet:
		n = "signature"
	case popguard.ReasonTokenIssuer:
		n = "iss"
	case popguard.ReasonTokenAudience:
		n = "aud"
	case popguard.ReasonTokenExpired:
		n = "exp"
	case popguard.ReasonTokenNotYetValid:
		n = "nbf"
	case popguard.ReasonTokenIssuedAt:
		n = "iat"
	case popguard.ReasonTokenClaims:
		n = "claims"
	case popguard.ReasonTokenCnf:
		n = "cnf"
	default:
		n = string(pe.Reason)
	}
	if prefix != "" && n == "structure" {
		return "at"
	}
	return prefix + n
}

// validateRSABits returns the modulus size of an RSA key.
func validateRSABits(k *jose.PublicKey) (int, bool) {
	type bitLener interface{ Size() int }
	if s, ok := k.Key.(bitLener); ok {
		return s.Size() * 8, true
	}
	return 0, false
}
