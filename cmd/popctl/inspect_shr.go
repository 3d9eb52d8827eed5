package main

// inspect for Microsoft PoP signed HTTP requests (SHR).

import (
	"context"
	"github.com/popguard/popguard/internal/shrwire"
	"strings"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/sign"
	"github.com/popguard/popguard/validate"
)

// shrEmptyHash is base64url(SHA-256("")): IdentityModel's q when it covers
// nothing.
const shrEmptyHash = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"

func (in *inspector) inspectSHR(s string) *part {
	j := in.parseStrict(s, validate.DefaultMaxSHRSize)
	if j == nil {
		in.shrVerdict(s, nil)
		return nil
	}
	ms := j.Payload
	_, hasHTM := jose.Lookup(ms, "htm")
	_, hasHTU := jose.Lookup(ms, "htu")
	typ := strings.ToLower(strings.TrimPrefix(strings.ToLower(j.Typ), "application/"))
	switch {
	case j.HasTyp && typ == "pop":
		in.pass("typ", "%s", j.Typ)
	case j.HasTyp && typ != "jwt":
		in.fail("typ", `%q: a signed HTTP request has typ "pop"`, j.Typ)
	case hasHTM || hasHTU:
		in.fail("typ", `%s with htm/htu claims: that is a DPoP proof's shape, not an SHR`, typOrMissing(j))
	default:
		in.pass("typ", `%s (accepted for an SHR-shaped payload; MSAL writes "pop")`, typOrMissing(j))
	}
	alg := in.checkAlg(j, validate.DefaultSHRAlgs(), "signed HTTP request", "alg")
	var forbidden []string
	for _, h := range []string{"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"} {
		if j.HeaderHas(h) {
			forbidden = append(forbidden, h)
		}
	}
	if len(forbidden) > 0 {
		in.fail("header", "header %s: the PoP key comes only from the access token's cnf", strings.Join(forbidden, ", "))
	}

	// Claims.
	var missing, wrong []string
	str := func(name string, required bool) (string, bool) {
		v, present, ok := memberString(ms, name)
		switch {
		case !present || (ok && v == "" && required):
			if required {
				missing = append(missing, name)
			}
		case !ok:
			wrong = append(wrong, name)
		default:
			return v, true
		}
		return "", false
	}
	at, hasAt := str("at", true)
	m, hasM := str("m", true)
	u, hasU := str("u", true)
	p, hasP := str("p", true)
	b, hasB := str("b", false)
	nonce, hasNonce := str("nonce", false)
	var ts time.Time
	hasTS := false
	if v, ok := jose.Lookup(ms, "ts"); !ok {
		missing = append(missing, "ts")
	} else if n, ok := shrwire.Int(v); !ok {
		wrong = append(wrong, "ts (an integer number of seconds)")
	} else {
		ts, hasTS = time.Unix(n, 0), true
	}
	var q, h *shrwire.List
	for _, n := range []string{"q", "h"} {
		if v, ok := jose.Lookup(ms, n); ok {
			l, ok := shrwire.ReadList(v)
			if !ok {
				wrong = append(wrong, n+` (want [["name", ...], "value"])`)
			} else if n == "q" {
				q = l
			} else {
				h = l
			}
		}
	}
	var cnfJWK []byte
	if v, ok := jose.Lookup(ms, "cnf"); ok {
		cm, err := jose.ParseObject(v)
		if err != nil {
			wrong = append(wrong, "cnf (not an object)")
		} else if jwk, ok := jose.Lookup(cm, "jwk"); ok {
			if len(jwk) == 0 || jwk[0] != '{' {
				wrong = append(wrong, "cnf.jwk (not an object)")
			} else {
				cnfJWK = jwk
			}
		}
	}
	switch {
	case len(missing) > 0:
		in.fail("claims", "missing %s (required: at, ts, m, u, p)", strings.Join(missing, ", "))
	case len(wrong) > 0:
		in.fail("claims", "wrong type: %s", strings.Join(wrong, ", "))
	default:
		var opt []string
		for _, n := range []string{"q", "h", "b", "nonce", "cnf"} {
			if _, ok := jose.Lookup(ms, n); ok {
				opt = append(opt, n)
			}
		}
		extra := ""
		if len(opt) > 0 {
			extra = ", " + strings.Join(opt, ", ")
		}
		in.pass("claims", "at, ts, m, u, p%s present", extra)
	}

	if hasTS {
		maxAge, skew := validate.DefaultSHRMaxAge, validate.DefaultSHRFutureSkew
		switch {
		case ts.Before(in.now.Add(-maxAge)):
			in.fail("ts", "signed %s ago (%s): older than the %s max age", humanDuration(in.now.Sub(ts)), stamp(ts), humanDuration(maxAge))
		case ts.After(in.now.Add(skew)):
			in.fail("ts", "in the future by %s (%s): more than the %s allowed skew; is the client clock ahead?", humanDuration(ts.Sub(in.now)), stamp(ts), humanDuration(skew))
		case ts.After(in.now):
			in.pass("ts", "in the future by %s (%s), within the %s skew", humanDuration(ts.Sub(in.now)), stamp(ts), humanDuration(skew))
		default:
			in.pass("ts", "signed %s (%s); accepted until %s", ago(ts, in.now), stamp(ts), stamp(ts.Add(maxAge)))
		}
	}
	if hasM {
		switch {
		case in.method == "":
			in.skip("m", "%s (not compared: no -method)", m)
		case m == in.method:
			in.pass("m", "%s = request method", m)
		default:
			in.fail("m", "%q ≠ request method %q (exact, case-sensitive)", m, in.method)
		}
	}
	t := in.target()
	if hasU {
		if t == nil {
			in.skip("u", "%s (not compared: no -url)", u)
		} else if err := shrwire.MatchHost(u, t.scheme, t.host); err == nil {
			in.pass("u", "%s matches the request authority %s://%s", u, t.scheme, t.host)
		} else {
			in.fail("u", "%s vs request authority %s://%s: %s", u, t.scheme, t.host, popguard.AsError(err).Description)
		}
	}
	if hasP {
		switch {
		case t == nil:
			in.skip("p", "%s (not compared: no -url)", p)
		case shrwire.MatchPath(p, t.path, t.rawQuery, false):
			in.pass("p", "%s = request path", p)
		case shrwire.MatchPath(p, t.path, t.rawQuery, true):
			if in.browserCompat {
				in.pass("p", "%s = request path %s in msal-browser's lower-cased form (-msal-browser-compat)", p, t.path)
			} else {
				in.fail("p", "%s ≠ request path %s, except in msal-browser's lower-cased form: a server accepts it only with validate.MSALBrowserCompat (-msal-browser-compat)", p, t.path)
			}
		default:
			in.fail("p", "%q ≠ request path %q (exact: case and slashes count)", p, t.path)
		}
	}
	in.shrQuery(q, t)
	in.shrHeaders(h)
	switch {
	case hasB && !in.hasBody:
		in.skip("b", "%s (not checked: give the body with -body FILE)", b)
	case hasB && b == sign.BodyHash(in.body):
		in.pass("b", "= SHA-256 of the -body file")
	case hasB:
		in.fail("b", "%s ≠ SHA-256 of the -body file %s", b, sign.BodyHash(in.body))
	case in.hasBody:
		in.skip("b", "absent: the body is not signed")
	}
	if hasNonce {
		in.skip("nonce", "%q (not checked: only the server that issued it can)", nonce)
	}
	var ownKey *jose.PublicKey
	if cnfJWK != nil {
		k, err := jose.ParseJWK(cnfJWK, jose.KeyPolicy{})
		if err != nil {
			in.fail("cnf.jwk", "%s", jwkProblem(err))
		} else {
			ownKey = k
			in.pass("cnf.jwk", "%s, thumbprint %s", describeKey(k), k.Thumbprint)
		}
	}

	// The access token and its binding.
	var atPart *part
	var popKey *jose.PublicKey
	if hasAt {
		aj, err := jose.ParseCompact(at, validate.DefaultMaxTokenSize)
		if err != nil {
			in.fail("at", "not a JWT access token: %v", err)
		} else {
			d := decodeLenient(at)
			atPart = &part{Header: d.header, Payload: d.payload}
			in.pass("at", "a JWT access token, %d bytes (its checks follow as at.*)", len(at))
			in.tokenChecks(aj, "at.")
			popKey = in.shrBinding(aj, ownKey)
		}
	}
	if j.HasKid {
		tp, ok := shrwire.KidThumbprint(j.Kid)
		switch {
		case !ok:
			in.skip("kid", "%q (ignored: not a thumbprint)", j.Kid)
		case popKey == nil && ownKey == nil:
			in.skip("kid", "names thumbprint %s (not compared: no PoP key)", tp)
		default:
			k := popKey
			if k == nil {
				k = ownKey
			}
			form := "MSAL.NET form: the thumbprint"
			if tp != j.Kid {
				form = `msal-browser form: base64url({"kid":thumbprint})`
			}
			if tp == k.Thumbprint {
				in.pass("kid", "names the PoP key (%s)", form)
			} else {
				in.fail("kid", "names thumbprint %s, but the PoP key's is %s", tp, k.Thumbprint)
			}
		}
	}
	sigKey := popKey
	if sigKey == nil {
		sigKey = ownKey
	}
	switch {
	case alg == nil || sigKey == nil:
		in.skip("signature", "not checked: no usable alg and PoP key")
	case !alg.Fits(sigKey):
		in.fail("signature", "%s cannot be used with the %s PoP key", j.Alg, keyKind(sigKey))
	case jose.Verify(alg, sigKey, j.SigningInput, j.Signature) != nil:
		in.fail("signature", "does not verify with the PoP key: altered, or signed with another key")
	default:
		in.pass("signature", "%s signature verifies with the PoP key", j.Alg)
	}
	in.shrVerdict(s, &shrSelf{m: m, u: u, p: p, q: q})
	return atPart
}

// shrBinding checks the at's cnf against the SHR's key and returns the
// PoP key.
func (in *inspector) shrBinding(aj *jose.JWS, own *jose.PublicKey) *jose.PublicKey {
	raw, ok := jose.Lookup(aj.Payload, "cnf")
	if !ok {
		in.fail("binding", "the at has no cnf: it is not bound to a PoP key")
		return nil
	}
	cm, err := jose.ParseObject(raw)
	if err != nil {
		in.fail("binding", "the at's cnf is not an object")
		return nil
	}
	has := func(n string) bool { _, ok := jose.Lookup(cm, n); return ok }
	switch {
	case has("jkt"):
		in.fail("binding", "the at is DPoP-bound (cnf.jkt), not a PoP token: send it with the DPoP scheme")
	case has("x5t#S256"):
		in.fail("binding", "the at is bound to a client certificate (cnf.x5t#S256), not a PoP key")
	case has("jwe"):
		in.fail("binding", "the at is bound to a symmetric key (cnf.jwe), which popguard refuses")
	case has("jwk"):
		v, _ := jose.Lookup(cm, "jwk")
		k, err := jose.ParseJWK(v, jose.KeyPolicy{})
		if err != nil {
			in.fail("binding", "the at's cnf.jwk: %s", jwkProblem(err))
			return nil
		}
		if own != nil && own.Thumbprint != k.Thumbprint {
			in.fail("binding", "the at's cnf.jwk (thumbprint %s) is not the SHR's cnf.jwk (%s)", k.Thumbprint, own.Thumbprint)
			return nil
		}
		in.pass("binding", "the at's cnf.jwk is the PoP key (thumbprint %s)", k.Thumbprint)
		return k
	case has("jku"):
		in.fail("binding", "the at names its key by cnf.jku, which popguard never dereferences")
	case has("kid"):
		v, _ := jose.Lookup(cm, "kid")
		kid, _ := jose.String(v)
		switch {
		case own == nil:
			in.fail("binding", "the at's cnf.kid is %s, but the SHR has no usable cnf.jwk to match it", kid)
		case own.Thumbprint == kid:
			in.pass("binding", "the at's cnf.kid = thumbprint of the SHR's cnf.jwk (%s)", kid)
			return own
		default:
			in.fail("binding", "the at's cnf.kid %s ≠ thumbprint of the SHR's cnf.jwk %s: token bound to another key", kid, own.Thumbprint)
		}
	default:
		in.fail("binding", "the at's cnf names no key")
	}
	return nil
}

func (in *inspector) shrQuery(q *shrwire.List, t *requestTarget) {
	hasQuery := t != nil && strings.Trim(t.rawQuery, "&") != ""
	switch {
	case q == nil && hasQuery:
		in.skip("q", "absent: the query is not signed (MSAL.NET sends no q)")
	case q == nil:
	case t == nil:
		in.skip("q", "covers %s (not compared: no -url)", quoteList(q.Names))
	case len(q.Names) == 0:
		switch {
		case q.Value == t.rawQuery:
			in.pass("q", "raw form (msal-browser): = the request query")
		case q.Value == strings.ToLower(t.rawQuery) && in.browserCompat:
			in.pass("q", "raw form (msal-browser): = the request query lower-cased (-msal-browser-compat)")
		case q.Value == strings.ToLower(t.rawQuery):
			in.fail("q", "raw form %q = the request query only lower-cased: a server accepts it only with validate.MSALBrowserCompat", q.Value)
		case q.Value == shrEmptyHash:
			in.pass("q", "covers nothing (IdentityModel's empty hash)")
		default:
			in.fail("q", "raw form %q ≠ the request query %q", q.Value, t.rawQuery)
		}
	default:
		params := map[string][]string{}
		for piece := range strings.SplitSeq(t.rawQuery, "&") {
			if n, v, ok := strings.Cut(piece, "="); ok && n != "" {
				params[n] = append(params[n], v)
			}
		}
		var buf []string
		for _, n := range q.Names {
			vs := params[n]
			if len(vs) != 1 {
				in.fail("q", "covers %q, which the request query has %d times (needs exactly once)", n, len(vs))
				return
			}
			buf = append(buf, n+"="+vs[0])
		}
		if jose.HashB64(strings.Join(buf, "&")) == q.Value {
			in.pass("q", "hash over %s matches the request query", quoteList(q.Names))
		} else {
			in.fail("q", "hash over %s does not match the request query %q", quoteList(q.Names), t.rawQuery)
		}
	}
}

func (in *inspector) shrHeaders(h *shrwire.List) {
	switch {
	case h == nil:
	case in.headers == nil:
		in.skip("h", "covers %s (not checked: give the headers with -header 'Name: value')", quoteList(h.Names))
	default:
		var lines []string
		for _, n := range h.Names {
			var vs []string
			for k, v := range in.headers {
				if strings.EqualFold(k, n) {
					vs = append(vs, v...)
				}
			}
			if len(vs) != 1 || vs[0] == "" {
				in.fail("h", "covers %q, which the -header values have %d times (needs exactly once)", n, len(vs))
				return
			}
			lines = append(lines, n+": "+vs[0])
		}
		if jose.HashB64(strings.Join(lines, "\n")) == h.Value {
			in.pass("h", "hash over %s matches the headers", quoteList(h.Names))
		} else {
			in.fail("h", "hash over %s does not match the -header values", quoteList(h.Names))
		}
	}
}

// shrSelf is what the SHR says about its own request, used for the
// library run when -method or -url is missing.
type shrSelf struct {
	m, u, p string
	q       *shrwire.List
}

// atVerifier decodes the at without checking its signature, for the
// library run when -jwks is not given: the SHR checks still run.
type atVerifier struct{}

func (atVerifier) VerifyToken(_ context.Context, at string) (*validate.Token, error) {
	j, err := jose.ParseCompact(at, validate.DefaultMaxTokenSize)
	if err != nil {
		return nil, popguard.NewError(popguard.CodeInvalidToken, popguard.ReasonTokenMalformed, "The access token is not a well-formed JWT", err)
	}
	tok := &validate.Token{}
	raw, ok := jose.Lookup(j.Payload, "cnf")
	if !ok {
		return tok, nil
	}
	cm, err := jose.ParseObject(raw)
	if err != nil {
		return nil, popguard.NewError(popguard.CodeInvalidToken, popguard.ReasonTokenCnf, "The cnf claim is not a JSON object", err)
	}
	for _, m := range cm {
		s, _ := jose.String(m.Value)
		switch m.Name {
		case "jkt":
			tok.Cnf.JKT = s
		case "kid":
			tok.Cnf.KID = s
		case "jwk":
			tok.Cnf.JWK = m.Value
		case "jku":
			tok.Cnf.JKU = s
		case "jwe":
			tok.Cnf.JWE = m.Value
		case "x5t#S256":
			tok.Cnf.X5tS256 = s
		}
	}
	return tok, nil
}

func (in *inspector) shrVerdict(s string, self *shrSelf) {
	var tokens validate.TokenVerifier = atVerifier{}
	note := ""
	if in.keys != nil {
		iss := in.iss
		if iss == "" {
			// The at's own iss: -iss is the place to pin it.
			if d := decodeLenient(s); d.pl != nil {
				if at, _ := d.pl["at"].(string); at != "" {
					if ad := decodeLenient(at); ad.pl != nil {
						iss, _ = ad.pl["iss"].(string)
					}
				}
			}
		}
		v, err := in.jwtVerifier(iss)
		if err != nil {
			panic(err)
		}
		tokens = v
	} else {
		note = "; the at's signature and claims not checked by it (no -jwks)"
	}
	opts := []validate.Option{validate.Clock(func() time.Time { return in.now })}
	if in.browserCompat {
		opts = append(opts, validate.MSALBrowserCompat())
	}
	sv, err := validate.NewSHRVerifier(tokens, opts...)
	if err != nil {
		panic(err)
	}
	req := validate.SHRRequest{Method: in.method, Header: in.headers}
	if in.hasBody {
		body := in.body
		req.Body = func() ([]byte, error) { return body, nil }
	}
	if t := in.target(); t != nil {
		req.Scheme, req.Host, req.Path, req.RawQuery = t.scheme, t.host, t.path, t.rawQuery
	} else if self != nil {
		req.Scheme, req.Host, req.Path = "https", self.u, self.p
		if self.q != nil && len(self.q.Names) == 0 {
			req.RawQuery = self.q.Value
		}
		note = " (with the SHR's own u and p: no -url)" + note
	}
	if req.Method == "" && self != nil {
		req.Method = self.m
		note = " (with the SHR's own m: no -method)" + note
	}
	if req.Scheme == "" {
		req.Scheme, req.Host, req.Path = "https", "popctl.invalid", "/"
	}
	_, err = sv.Verify(context.Background(), s, req)
	in.verdict("validate.SHRVerifier", err, shrCheckOf(err), "validate.SHRVerifier accepts it"+note)
}

func shrCheckOf(err error) string {
	pe := popguard.AsError(err)
	if pe == nil {
		return ""
	}
	d := pe.Description
	switch pe.Reason {
	case popguard.ReasonSHRMalformed:
		if strings.Contains(d, "claim") {
			return "claims"
		}
		return "structure"
	case popguard.ReasonSHRType:
		return "typ"
	case popguard.ReasonSHRAlg:
		if strings.Contains(d, "match its key") {
			return "signature"
		}
		return "alg"
	case popguard.ReasonSHRKey:
		switch {
		case strings.Contains(d, "must come from the access token"):
			return "header"
		case strings.Contains(d, "kid"):
			return "kid"
		case strings.Contains(d, "jku"):
			return "binding"
		}
		return "cnf.jwk"
	case popguard.ReasonSHRSignature:
		return "signature"
	case popguard.ReasonSHRTimestamp:
		if strings.Contains(d, "no ts") || strings.Contains(d, "type") {
			return "claims"
		}
		return "ts"
	case popguard.ReasonSHRMethod, popguard.ReasonSHRHost, popguard.ReasonSHRPath,
		popguard.ReasonSHRQuery, popguard.ReasonSHRHeaders, popguard.ReasonSHRBody:
		if strings.Contains(d, "has no") && pe.Reason != popguard.ReasonSHRBody || strings.Contains(d, "wrong type") {
			return "claims"
		}
		return map[popguard.Reason]string{
			popguard.ReasonSHRMethod: "m", popguard.ReasonSHRHost: "u", popguard.ReasonSHRPath: "p",
			popguard.ReasonSHRQuery: "q", popguard.ReasonSHRHeaders: "h", popguard.ReasonSHRBody: "b",
		}[pe.Reason]
	case popguard.ReasonTokenNotBound, popguard.ReasonKeyBinding:
		return "binding"
	case popguard.ReasonNonceMissing, popguard.ReasonNonceInvalid:
		return "nonce"
	case popguard.ReasonBadTarget:
		return "u"
	}
	return tokenCheckOf(err, "at.")
}
