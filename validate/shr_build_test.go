package validate_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The tests' own builder of signed HTTP requests (SHRs), signed with a
// jwsKey. The public kit (poptest.Client.SHR) writes only what a client
// sends; these tests also need SHRs that no client makes (an RSA-1024 key,
// private JWK members, a q or h that does not match, a raw host or path, no
// nonce), and the exact header and payload bytes to alter before signing
// (SHRParts). The bytes are the three clients' below, member for member.

// shrFormat selects which client's SHR bytes SHRParts writes.
type shrFormat int

const (
	// shrMSALNet is MSAL.NET's PoPAuthenticationScheme: header
	// {"alg","kid":<thumbprint>,"typ":"pop"}, payload cnf{jwk{e,kty,n}}, ts,
	// at, nonce (32 hex digits unless given), m, u, p. No q, h, b.
	shrMSALNet shrFormat = iota
	// shrMSALBrowser is msal-common's PopTokenGenerator with msal-browser's
	// CryptoOps: header {"typ":"pop","alg","kid":ReqCnf(thumbprint)},
	// payload at, ts, m (upper case), u (lower case), nonce (a UUID unless
	// given), p (lower case, '/' appended when the URL has no query and the
	// path does not end in '/'), q = [[], <lower-cased raw query>] when
	// there is a query, client_claims when set, cnf{jwk} with the WebCrypto
	// members (alg, e, ext, key_ops, kty, n) in sorted order.
	shrMSALBrowser
	// shrIdentityModel is Microsoft.IdentityModel's SignedHttpRequestHandler
	// with its creation defaults: header {"alg","kid","typ":"pop"}, payload
	// at, ts, m, u, p, q, h, b (each when set), nonce (32 hex digits unless
	// given), cnf{jwk} with kid = thumbprint.
	shrIdentityModel
)

// shrQClaim is an SHR q claim: [[names...], value]. Value is the base64url
// SHA-256 of the canonical buffer (draft-03 §3.1), or, in msal-browser's
// form with no names, the raw query string itself.
type shrQClaim struct {
	Names []string
	Value string
}

// shrHClaim is an SHR h claim: [[names...], hash] (draft-03 §3.2).
type shrHClaim struct {
	Names []string
	Hash  string
}

// shrOptions describe the request an SHR signs and how to write it.
type shrOptions struct {
	// Method, Host (host[:port] as the client writes it), Path (escaped)
	// and RawQuery of the request. An empty Method, Host or Path omits m, u
	// or p.
	Method, Host, Path, RawQuery string
	// Nonce sets nonce; empty means the format's default random nonce.
	Nonce string
	// NoNonce omits the nonce claim.
	NoNonce bool
	// TS is the signing time (default now), written as whole seconds.
	TS time.Time
	// Q and H set the q and h claims (see shrQHash, shrQRaw, shrHHash).
	// For shrMSALBrowser a query without Q gets the raw form automatically.
	Q *shrQClaim
	H *shrHClaim
	// Body, when non-nil, sets b = base64url(SHA-256(Body)).
	Body []byte
	// Format selects the client format (default shrMSALNet).
	Format shrFormat
	// Typ overrides the header typ; "-" omits it.
	Typ string
	// ExtraJWK adds members to cnf.jwk (e.g. alg, ext, key_ops, kid, or
	// private members).
	ExtraJWK map[string]any
	// ExtraClaims adds payload members before cnf, sorted by name; a member
	// the format writes itself is replaced in place, and a nil value
	// removes it.
	ExtraClaims map[string]any
	// ClientClaims sets client_claims to this string, as msal-browser does
	// with its shrClaims request parameter, right after q; empty omits it.
	ClientClaims string
}

// shrReqCnf is the req_cnf token-request parameter (and msal-browser's SHR
// header kid): base64url of {"kid":"<thumbprint>"}.
func shrReqCnf(thumbprint string) string {
	return jwsB64.EncodeToString([]byte(`{"kid":` + shrJSON(thumbprint) + `}`))
}

// SHR is a signed HTTP request carrying accessToken in the format of
// o.Format, signed under k.Alg.
func (k *jwsKey) SHR(accessToken string, o shrOptions) (string, error) {
	h, p, err := k.SHRParts(accessToken, o)
	if err != nil {
		return "", err
	}
	return k.SignRaw(h, p)
}

// SHRParts is the exact header and payload JSON that SHR signs, for tests
// that alter them before signing with SignRaw.
func (k *jwsKey) SHRParts(accessToken string, o shrOptions) (header, payload []byte, err error) {
	tp := k.Thumbprint()
	ts := o.TS
	if ts.IsZero() {
		ts = time.Now()
	}
	nonce := o.Nonce
	if nonce == "" {
		if o.Format == shrMSALBrowser {
			nonce = shrUUID()
		} else {
			nonce = shrRandomHex()
		}
	}
	var hdr, pl shrObject
	jwkExtra := map[string]any{}
	method, host, path := o.Method, o.Host, o.Path
	q := o.Q
	switch o.Format {
	case shrMSALNet, shrIdentityModel:
		hdr.add("alg", k.Alg)
		hdr.add("kid", tp)
		hdr.add("typ", "pop")
		if o.Format == shrIdentityModel {
			jwkExtra["kid"] = tp
		}
	case shrMSALBrowser:
		hdr.add("typ", "pop")
		hdr.add("alg", k.Alg)
		hdr.add("kid", shrReqCnf(tp))
		jwkExtra["alg"] = k.Alg
		jwkExtra["ext"] = true
		jwkExtra["key_ops"] = []string{"verify"}
		method = strings.ToUpper(method)
		host = strings.ToLower(host)
		if path != "" {
			path = strings.ToLower(path)
			if o.RawQuery == "" && !strings.HasSuffix(path, "/") {
				path += "/"
			}
		}
		if q == nil && o.RawQuery != "" {
			q = shrQRaw(strings.ToLower(o.RawQuery))
		}
	default:
		return nil, nil, fmt.Errorf("unknown SHR format %d", o.Format)
	}
	if o.Typ == "-" {
		hdr.del("typ")
	} else if o.Typ != "" {
		hdr.set("typ", o.Typ)
	}
	for n, v := range o.ExtraJWK {
		jwkExtra[n] = v
	}
	cnf := `{"jwk":` + shrSortedObject(k.PublicJWK(jwkExtra)) + `}`

	add := func(name string, v any, when bool) {
		if when {
			pl.add(name, v)
		}
	}
	addQHB := func() {
		if q != nil {
			pl.addRaw("q", shrPair(q.Names, q.Value))
		}
		if o.H != nil {
			pl.addRaw("h", shrPair(o.H.Names, o.H.Hash))
		}
		if o.Body != nil {
			pl.add("b", shrBodyHash(o.Body))
		}
		if o.ClientClaims != "" {
			pl.add("client_claims", o.ClientClaims)
		}
	}
	own := map[string]bool{"at": true, "ts": true, "m": true, "u": true, "p": true, "q": true, "h": true,
		"b": true, "nonce": true, "cnf": true, "client_claims": true}
	extraNames := slices.Sorted(maps.Keys(o.ExtraClaims))
	extras := func() {
		for _, n := range extraNames {
			if v := o.ExtraClaims[n]; v != nil && !own[n] {
				pl.add(n, v)
			}
		}
	}
	switch o.Format {
	case shrMSALNet:
		pl.addRaw("cnf", cnf)
		pl.addRaw("ts", fmt.Sprint(ts.Unix()))
		pl.add("at", accessToken)
		add("nonce", nonce, !o.NoNonce)
		add("m", method, method != "")
		add("u", host, host != "")
		add("p", path, path != "")
		addQHB()
		extras()
	case shrMSALBrowser:
		pl.add("at", accessToken)
		pl.addRaw("ts", fmt.Sprint(ts.Unix()))
		add("m", method, method != "")
		add("u", host, host != "")
		add("nonce", nonce, !o.NoNonce)
		add("p", path, path != "")
		addQHB()
		extras()
		pl.addRaw("cnf", cnf)
	case shrIdentityModel:
		pl.add("at", accessToken)
		pl.addRaw("ts", fmt.Sprint(ts.Unix()))
		add("m", method, method != "")
		add("u", host, host != "")
		add("p", path, path != "")
		addQHB()
		add("nonce", nonce, !o.NoNonce)
		extras()
		pl.addRaw("cnf", cnf)
	}
	for _, n := range extraNames {
		if v := o.ExtraClaims[n]; v == nil {
			pl.del(n)
		} else if own[n] {
			pl.set(n, v)
		}
	}
	return hdr.bytes(), pl.bytes(), nil
}

// shrBodyHash is the b claim for body: base64url(SHA-256(body)).
func shrBodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return jwsB64.EncodeToString(sum[:])
}

// shrQRaw is msal-browser's q claim: [[], rawQuery]. It is not a hash.
func shrQRaw(rawQuery string) *shrQClaim { return &shrQClaim{Names: []string{}, Value: rawQuery} }

// shrQHash is the q claim of Microsoft.IdentityModel for rawQuery (not
// decoded, without '?'). Parameters are the '&'-separated pieces with
// exactly one '=', a non-empty name and a non-empty value; a name that
// occurs more than once is dropped (draft-03 §7.5). names selects and
// orders the covered parameters; with no names every remaining parameter
// is covered, in query order. A listed name that is not an accepted
// parameter is still listed (and hashed as absent), to build bad claims.
func shrQHash(rawQuery string, names ...string) *shrQClaim {
	params := map[string]string{}
	seen := map[string]int{}
	var order []string
	for piece := range strings.SplitSeq(rawQuery, "&") {
		n, v, _ := strings.Cut(piece, "=")
		if strings.Count(piece, "=") != 1 || n == "" || v == "" {
			continue
		}
		if seen[n]++; seen[n] == 1 {
			params[n] = v
			order = append(order, n)
		}
	}
	order = slices.DeleteFunc(order, func(n string) bool { return seen[n] != 1 })
	if len(names) == 0 {
		names = order
	}
	var buf strings.Builder
	for i, n := range names {
		if i > 0 {
			buf.WriteByte('&')
		}
		buf.WriteString(n)
		buf.WriteByte('=')
		if seen[n] == 1 {
			buf.WriteString(params[n])
		}
	}
	return &shrQClaim{Names: slices.Clone(names), Value: shrHashB64(buf.String())}
}

// shrHHash is the h claim of Microsoft.IdentityModel for the named
// headers: names are lower-cased, the buffer is "name: value" lines joined
// by "\n" (LF, not the CRLF of the draft's example), value = h.Get(name).
// With no names, every header except Authorization that has exactly one
// non-empty value is covered, in sorted order.
func shrHHash(h http.Header, names ...string) *shrHClaim {
	if len(names) == 0 {
		for n, vs := range h {
			if strings.EqualFold(n, "authorization") || len(vs) != 1 || vs[0] == "" {
				continue
			}
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	}
	lower := make([]string, len(names))
	var buf strings.Builder
	for i, n := range names {
		lower[i] = strings.ToLower(n)
		if i > 0 {
			buf.WriteByte('\n')
		}
		buf.WriteString(lower[i])
		buf.WriteString(": ")
		buf.WriteString(h.Get(n))
	}
	return &shrHClaim{Names: lower, Hash: shrHashB64(buf.String())}
}

func shrHashB64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return jwsB64.EncodeToString(sum[:])
}

// shrRandomHex is MSAL.NET's and IdentityModel's nonce: 32 hex digits.
func shrRandomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// shrUUID is msal-browser's nonce: a random (version 4) UUID in lower-case
// hex with hyphens, as msal's createNewGuid makes.
func shrUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// shrObject builds a JSON object with members in insertion order.
type shrObject struct {
	names  []string
	values []string
}

func (o *shrObject) add(name string, v any) { o.addRaw(name, shrJSON(v)) }

func (o *shrObject) addRaw(name, raw string) {
	o.names = append(o.names, name)
	o.values = append(o.values, raw)
}

// set replaces member name in place, or appends it.
func (o *shrObject) set(name string, v any) {
	if i := slices.Index(o.names, name); i >= 0 {
		o.values[i] = shrJSON(v)
		return
	}
	o.add(name, v)
}

func (o *shrObject) del(name string) {
	if i := slices.Index(o.names, name); i >= 0 {
		o.names = slices.Delete(o.names, i, i+1)
		o.values = slices.Delete(o.values, i, i+1)
	}
}

func (o *shrObject) bytes() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range o.names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(shrJSON(n))
		b.WriteByte(':')
		b.WriteString(o.values[i])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// shrSortedObject writes m with members in sorted order, as msal-browser's
// getSortedObjectString does (and as RFC 7638 orders the required
// members).
func shrSortedObject(m map[string]any) string {
	var o shrObject
	for _, n := range slices.Sorted(maps.Keys(m)) {
		o.add(n, m[n])
	}
	return string(o.bytes())
}

func shrPair(names []string, value string) string {
	if names == nil {
		names = []string{}
	}
	return "[" + shrJSON(names) + "," + shrJSON(value) + "]"
}

// shrJSON marshals v as JavaScript's JSON.stringify and Json.NET would:
// without Go's HTML escaping of '<', '>' and '&'.
func shrJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("shrJSON: cannot marshal %T: %v", v, err))
	}
	return strings.TrimSuffix(b.String(), "\n")
}
