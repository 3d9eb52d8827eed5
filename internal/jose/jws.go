package jose

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/popguard/popguard/internal/ascii"
)

// Errors of ParseCompact. Their messages are safe to show a client.
var (
	ErrTooLarge       = errors.New("JWS is too large")
	ErrNotCompact     = errors.New("not a compact JWS (three base64url segments)")
	ErrBadEncoding    = errors.New("JWS segment is not unpadded base64url")
	ErrHeaderNotJSON  = errors.New("JWS header is not a JSON object without duplicate members")
	ErrPayloadNotJSON = errors.New("JWS payload is not a JSON object without duplicate members")
	ErrHeaderMember   = errors.New("JWS header member has the wrong type")
	ErrCrit           = errors.New("JWS crit names an extension that is not understood")
	ErrUnencoded      = errors.New("JWS with an unencoded payload (b64) is not accepted")
)

var (
	b64 = base64.RawURLEncoding.Strict()
	// b64Dot holds the characters of a compact JWS: base64url and '.'.
	b64Dot = ascii.NewSet(true, "-_.")
)

// JWS is a parsed compact JWS. Every field points into the parsed input or
// into buffers decoded once; nothing is parsed twice.
type JWS struct {
	// SigningInput is the ASCII "header.payload" the signature covers.
	SigningInput string
	Signature    []byte
	Header       []Member
	Payload      []Member

	// Well-known header members, decoded.
	Alg    string
	Typ    string
	HasTyp bool
	Kid    string
	HasKid bool
	// JWK is the raw JSON of the jwk header member, nil if absent.
	JWK []byte

	// members backs Header and Payload when they fit, as they do for a
	// DPoP proof or a signed HTTP request: one allocation for all three.
	members [16]Member
}

// ParseCompact splits and decodes a compact JWS of at most maxLen bytes. It
// accepts exactly three segments of unpadded base64url (RFC 7515 §2, §7.1),
// header and payload that are JSON objects without duplicate members, and a
// crit header only if it is absent (no extension is understood, RFC 7515
// §4.1.11). alg must be a string; typ, kid, when present, strings; jwk, when
// present, an object.
func ParseCompact(s string, maxLen int) (*JWS, error) {
	return ParseCompactLimit(s, maxLen, MaxMembers)
}

// ParseCompactLimit is ParseCompact with a cap of maxMembers members per
// object of the payload (the header keeps MaxMembers).
func ParseCompactLimit(s string, maxLen, maxMembers int) (*JWS, error) {
	if len(s) > maxLen {
		return nil, ErrTooLarge
	}
	d1 := strings.IndexByte(s, '.')
	if d1 < 1 {
		return nil, ErrNotCompact
	}
	d2 := strings.IndexByte(s[d1+1:], '.')
	if d2 < 1 {
		return nil, ErrNotCompact
	}
	d2 += d1 + 1
	if d2 == len(s)-1 || strings.IndexByte(s[d2+1:], '.') >= 0 {
		return nil, ErrNotCompact
	}
	if b64Dot.Span(s) != len(s) {
		return nil, ErrBadEncoding
	}
	hs, ps, ss := s[:d1], s[d1+1:d2], s[d2+1:]
	// One buffer for all three decoded segments. []byte(hs) and the others
	// do not copy: Decode only reads them, and the compiler then converts
	// without copying (go build -gcflags=-m says "zero-copy string->[]byte
	// conversion").
	buf := make([]byte, b64.DecodedLen(len(hs))+b64.DecodedLen(len(ps))+b64.DecodedLen(len(ss)))
	hn, err := b64.Decode(buf, []byte(hs))
	if err != nil {
		return nil, ErrBadEncoding
	}
	hdr := buf[:hn:hn]
	rest := buf[hn:]
	pn, err := b64.Decode(rest, []byte(ps))
	if err != nil {
		return nil, ErrBadEncoding
	}
	payload := rest[:pn:pn]
	rest = rest[pn:]
	sn, err := b64.Decode(rest, []byte(ss))
	if err != nil {
		return nil, ErrBadEncoding
	}
	j := &JWS{SigningInput: s[:d2], Signature: rest[:sn:sn]}
	if j.Header, err = appendObject(j.members[:0], hdr, MaxMembers); err != nil {
		return nil, ErrHeaderNotJSON
	}
	// The payload's members follow the header's, which must not grow into them.
	j.Header = j.Header[:len(j.Header):len(j.Header)]
	off := min(len(j.Header), len(j.members))
	if j.Payload, err = appendObject(j.members[off:off], payload, maxMembers); err != nil {
		return nil, ErrPayloadNotJSON
	}
	for _, m := range j.Header {
		var ok bool
		switch m.Name {
		case "alg":
			j.Alg, ok = String(m.Value)
		case "typ":
			j.Typ, ok = String(m.Value)
			j.HasTyp = true
		case "kid":
			j.Kid, ok = String(m.Value)
			j.HasKid = true
		case "jwk":
			ok = len(m.Value) > 0 && m.Value[0] == '{'
			j.JWK = m.Value
		case "crit":
			return nil, ErrCrit
		case "b64":
			return nil, ErrUnencoded
		default:
			ok = true
		}
		if !ok {
			return nil, ErrHeaderMember
		}
	}
	if j.Alg == "" {
		return nil, ErrHeaderMember
	}
	return j, nil
}

// HeaderHas reports whether the header has a member called name.
func (j *JWS) HeaderHas(name string) bool {
	_, ok := Lookup(j.Header, name)
	return ok
}
