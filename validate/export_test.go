package validate

// Unexported parts of package validate that the tests of package
// validate_test reach. The tests live there so that they can use the public
// test kit (poptest), which imports this package.

import (
	"net/http"

	"github.com/popguard/popguard/internal/shrwire"
)

// The verifiers' defaults, for tests at their edges.
const (
	DefaultMaxJTILength    = defaultMaxJTILength
	DefaultMaxProofSize    = defaultMaxProofSize
	DefaultProofFutureSkew = defaultProofFutureSkew
	DefaultProofMaxAge     = defaultProofMaxAge
	MaxClientClaims        = maxClientClaims
	SHREmptyHash           = shrEmptyHash
)

var (
	ParseCnf  = parseCnf
	ReplayKey = replayKey
)

// OptionName is the name an Option is refused by.
func OptionName(o Option) string { return o.name }

// Route is the IssuerSet's choice of verifier for token.
func (s *IssuerSet) Route(token string) (*JWTVerifier, error) {
	v, _, err := s.route(token)
	return v, err
}

// Traced reports whether v reports its checks to a tracer.
func (v *ProofVerifier) Traced() bool { return v.tr != nil }

// PayloadHash is the hash of the signed payload in s.ReplayKey.
func (s *SHR) PayloadHash() string { return s.payloadHash }

// SHRQueryBuffer is the q canonical buffer of names in rawQuery, or why
// there is none.
func SHRQueryBuffer(rawQuery string, names []string) (buf, why string) {
	return parseSHRQuery(rawQuery).buffer(names)
}

// CheckQuery checks an SHR whose q claim is q against rawQuery.
func (v *SHRVerifier) CheckQuery(q *shrwire.List, rawQuery string) error {
	return v.checkQuery(&shrClaims{q: q}, rawQuery)
}

// CheckHeaders checks an SHR whose h claim is h against hdr.
func (v *SHRVerifier) CheckHeaders(h *shrwire.List, hdr http.Header) error {
	return v.checkHeaders(&shrClaims{h: h}, hdr)
}
