package sign

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// SHRFormat selects which client's signed HTTP request (SHR) bytes Key.SHR
// reproduces: header members, payload member order and defaults.
type SHRFormat int

const (
	// MSALNet is MSAL.NET's PoPAuthenticationScheme: header
	// {"alg","kid":<thumbprint>,"typ":"pop"}, payload cnf{jwk{e,kty,n}}, ts,
	// at, nonce (32 hex digits unless given), m, u, p. No q, h, b.
	MSALNet SHRFormat = iota
	// MSALBrowser is msal-common's PopTokenGenerator with msal-browser's
	// CryptoOps: header {"typ":"pop","alg","kid":ReqCnf(thumbprint)},
	// payload at, ts, m (upper case), u (lower case), nonce (a UUID unless
	// given), p (lower case, '/' appended when the URL has no query and the
	// path does not end in '/'), q = [[], <lower-cased raw query>] when there
	// is a query, client_claims when SHROptions.ClientClaims is set, cnf{jwk}
	// with the WebCrypto members (alg, e, ext, key_ops, kty, n) in sorted
	// order.
	MSALBrowser
	// IdentityModel is Microsoft.IdentityModel's SignedHttpRequestHandler
	// with its creation defaults: header {"alg","kid","typ":"pop"}, payload
	// at, ts, m, u, p, q, h, b (each when set), nonce (32 hex digits unless
	// given), cnf{jwk} with kid = thumbprint.
	IdentityModel
)

// QClaim is an SHR q claim: [[names...], value]. Value is the base64url
// SHA-256 of the canonical buffer (draft-03 §3.1), or, in msal-browser's
// form with no names, the raw query string itself.
type QClaim struct {
	Names []string
	Value string
}

// HClaim is an SHR h claim: [[names...], hash] (draft-03 §3.2).
type HClaim struct {
	Names []string
	Hash  string
}

// SHROptions describe the request an SHR signs and how to write it.
type SHROptions struct {
	// Method, Host (host[:port] as the client writes it), Path (escaped) and
	// RawQuery of the request. An empty Method, Host or Path omits m, u or p.
	Method, Host, Path, RawQuery string
	// Nonce sets nonce; empty means the format's default random nonce.
	Nonce string
	// NoNonce omits the nonce claim.
	NoNonce bool
	// TS is the signing time (default now), written as whole seconds.
	TS time.Time
	// Q and H set the q and h claims (see QHash, QRaw, HHash). For
	// MSALBrowser a query without Q gets the raw form automatically.
	Q *QClaim
	H *HClaim
	// Body, when non-nil, sets b = base64url(SHA-256(Body)).
	Body []byte
	// Format selects the client format (default MSALNet).
	Format SHRFormat
	// Typ overrides the header typ; "-" omits it.
	Typ string
	// ExtraJWK adds members to cnf.jwk (e.g. alg, ext, key_ops, kid, or
	// private members for negative tests).
	ExtraJWK map[string]any
	// ExtraClaims adds payload members before cnf, sorted by name; a member
	// the format writes itself is replaced in place, and a nil value removes
	// it.
	ExtraClaims map[string]any
	// Header is set last in the JOSE header: a member is replaced in place
	// or appended; a nil value removes it.
	Header map[string]any
	// ClientClaims sets client_claims to this string, as msal-browser does
	// with its shrClaims request parameter (a serialized JSON object),
	// right after q; empty omits it.
	ClientClaims string
}

// ReqCnf returns the req_cnf token-request parameter (and msal-browser's
// SHR header kid): base64url of {"kid":"<thumbprint>"}.
func ReqCnf(thumbprint string) string {
	return b64.EncodeToString([]byte(`{"kid":` + jsonValue(thumbprint) + `}`))
}

// SHR returns a signed HTTP request carrying accessToken in the format of
// o.Format, signed with k under k.Alg.
func (k *Key) SHR(accessToken string, o SHROptions) (string, error) {
	h, p, err := k.SHRParts(accessToken, o)
	if err != nil {
		return "", err
	}
	return k.SignRaw(h, p)
}

// SHRParts returns the exact header and payload JSON that SHR signs, for
// tests that alter them before signing with SignRaw.
func (k *Key) SHRParts(accessToken string, o SHROptions) (header, payload []byte, err error) {
	if k == nil || k.Signer == nil {
		return nil, nil, fmt.Errorf("sign: nil key")
	}
	tp := k.Thumbprint()
	ts := o.TS
	if ts.IsZero() {
		ts = time.Now()
	}
	nonce := o.Nonce
	if nonce == "" {
		if o.Format == MSALBrowser {
			nonce = newUUID()
		} else {
			nonce = randomHex()
		}
	}
	var hdr, pl object
	jwkExtra := map[string]any{}
	method, host, path := o.Method, o.Host, o.Path
	q := o.Q
	switch o.Format {
	case MSALNet, IdentityModel:
		hdr.add("alg", k.Alg)
		hdr.add("kid", tp)
		hdr.add("typ", "pop")
		if o.Format == IdentityModel {
			jwkExtra["kid"] = tp
		}
	case MSALBrowser:
		hdr.add("typ", "pop")
		hdr.add("alg", k.Alg)
		hdr.add("kid", ReqCnf(tp))
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
			q = QRaw(strings.ToLower(o.RawQuery))
		}
	default:
		return nil, nil, fmt.Errorf("sign: unknown SHR format %d", o.Format)
	}
	if o.Typ == "-" {
		hdr.del("typ")
	} else if o.Typ != "" {
		hdr.set("typ", o.Typ)
	}
	for _, n := range sortedKeys(o.Header) {
		if v := o.Header[n]; v == nil {
			hdr.del(n)
		} else {
			hdr.set(n, v)
		}
	}
	for n, v := range o.ExtraJWK {
		jwkExtra[n] = v
	}
	jwk := k.PublicJWK(jwkExtra)
	cnf := `{"jwk":` + sortedObject(jwk) + `}`

	add := func(name string, v any, when bool) {
		if when {
			pl.add(name, v)
		}
	}
	addQHB := func() {
		if q != nil {
			pl.addRaw("q", pair(q.Names, q.Value))
		}
		if o.H != nil {
			pl.addRaw("h", pair(o.H.Names, o.H.Hash))
		}
		if o.Body != nil {
			pl.add("b", BodyHash(o.Body))
		}
		if o.ClientClaims != "" {
			pl.add("client_claims", o.ClientClaims)
		}
	}
	own := map[string]bool{"at": true, "ts": true, "m": true, "u": true, "p": true, "q": true, "h": true,
		"b": true, "nonce": true, "cnf": true, "client_claims": true}
	extras := func() {
		for _, n := range sortedKeys(o.ExtraClaims) {
			if v := o.ExtraClaims[n]; v != nil && !own[n] {
				pl.add(n, v)
			}
		}
	}
	switch o.Format {
	case MSALNet:
		pl.addRaw("cnf", cnf)
		pl.addRaw("ts", fmt.Sprint(ts.Unix()))
		pl.add("at", accessToken)
		add("nonce", nonce, !o.NoNonce)
		add("m", method, method != "")
		add("u", host, host != "")
		add("p", path, path != "")
		addQHB()
		extras()
	case MSALBrowser:
		pl.add("at", accessToken)
		pl.addRaw("ts", fmt.Sprint(ts.Unix()))
		add("m", method, method != "")
		add("u", host, host != "")
		add("nonce", nonce, !o.NoNonce)
		add("p", path, path != "")
		addQHB()
		extras()
		pl.addRaw("cnf", cnf)
	case IdentityModel:
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
	for _, n := range sortedKeys(o.ExtraClaims) {
		if v := o.ExtraClaims[n]; v == nil {
			pl.del(n)
		} else if own[n] {
			pl.set(n, v)
		}
	}
	return hdr.bytes(), pl.bytes(), nil
}

func sortedKeys(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// BodyHash returns the b claim for body: base64url(SHA-256(body)).
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return b64.EncodeToString(sum[:])
}

// QRaw returns msal-browser's q claim: [[], rawQuery]. It is not a hash.
func QRaw(rawQuery string) *QClaim { return &QClaim{Names: []string{}, Value: rawQuery} }

// QHash returns the q claim of Microsoft.IdentityModel for rawQuery (not
// decoded, without '?'). Parameters are the '&'-separated pieces with
// exactly one '=', a non-empty name and a non-empty value; a name that
// occurs more than once is dropped (draft-03 §7.5). names selects and orders
// the covered parameters; with no names every remaining parameter is
// covered, in query order. A listed name that is not an accepted parameter
// is still listed (and hashed as absent), so tests can build bad claims.
func QHash(rawQuery string, names ...string) *QClaim {
	params, order := sanitizeQuery(rawQuery)
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
		buf.WriteString(params[n])
	}
	return &QClaim{Names: slices.Clone(names), Value: hashB64(buf.String())}
}

func sanitizeQuery(rawQuery string) (map[string]string, []string) {
	params := map[string]string{}
	seen := map[string]int{}
	var order []string
	for piece := range strings.SplitSeq(rawQuery, "&") {
		if strings.Count(piece, "=") != 1 {
			continue
		}
		n, v, _ := strings.Cut(piece, "=")
		if n == "" || v == "" {
			continue
		}
		seen[n]++
		if seen[n] == 1 {
			params[n] = v
			order = append(order, n)
		}
	}
	kept := order[:0]
	for _, n := range order {
		if seen[n] == 1 {
			kept = append(kept, n)
		} else {
			delete(params, n)
		}
	}
	return params, kept
}

// HHash returns the h claim of Microsoft.IdentityModel for the named
// headers: names are lower-cased, the buffer is "name: value" lines joined
// by "\n" (LF, not the CRLF of the draft's example), value = h.Get(name).
// With no names, every header except Authorization that has exactly one
// non-empty value is covered, in sorted order.
func HHash(h http.Header, names ...string) *HClaim {
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
	return &HClaim{Names: lower, Hash: hashB64(buf.String())}
}

func hashB64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newUUID returns a random (version 4) UUID in lower-case hex with hyphens,
// as msal's createNewGuid does.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// object builds a JSON object with members in insertion order.
type object struct {
	names  []string
	values []string
}

func (o *object) add(name string, v any) { o.addRaw(name, jsonValue(v)) }

func (o *object) addRaw(name, raw string) {
	o.names = append(o.names, name)
	o.values = append(o.values, raw)
}

func (o *object) set(name string, v any) {
	for i, n := range o.names {
		if n == name {
			o.values[i] = jsonValue(v)
			return
		}
	}
	o.add(name, v)
}

func (o *object) del(name string) {
	for i, n := range o.names {
		if n == name {
			o.names = slices.Delete(o.names, i, i+1)
			o.values = slices.Delete(o.values, i, i+1)
			return
		}
	}
}

func (o *object) bytes() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range o.names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonValue(n))
		b.WriteByte(':')
		b.WriteString(o.values[i])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// sortedObject writes m with members in sorted order, as msal-browser's
// getSortedObjectString does (and as RFC 7638 orders the required members).
func sortedObject(m map[string]any) string {
	var o object
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		o.add(n, m[n])
	}
	return string(o.bytes())
}

func pair(names []string, value string) string {
	if names == nil {
		names = []string{}
	}
	return "[" + jsonValue(names) + "," + jsonValue(value) + "]"
}

// jsonValue marshals v as JavaScript's JSON.stringify and Json.NET would:
// without Go's HTML escaping of '<', '>' and '&'.
func jsonValue(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("sign: cannot marshal %T: %v", v, err))
	}
	return strings.TrimSuffix(b.String(), "\n")
}
